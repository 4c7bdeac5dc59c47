/**
 * Test support (src/webhooks/restart.test.ts): a process that runs only a webhook outbox over a
 * SQLite database, fed by a deterministic in-memory feed of `count` events, so that the test can
 * SIGKILL it mid-delivery and start it again. Usage: tsx outbox-child.ts DATA_DIR URL COUNT
 */
import { openDatabase } from '../records/store/database.js';
import { endpointIdOf } from './config.js';
import { createWebhookOutbox } from './outbox.js';
import { openWebhookStore } from './store.js';
import { MemoryFeed } from './test-support.js';

const [dataDir, url, count] = process.argv.slice(2);
if (!dataDir || !url || !count) throw new Error('usage: outbox-child.ts DATA_DIR URL COUNT');
const feed = new MemoryFeed(false);
for (let i = 0; i < Number(count); i++) feed.commit({ name: 'UserCallInComing' });
const database = await openDatabase({ dataDir });
const outbox = createWebhookOutbox({
  store: await openWebhookStore(database),
  feed,
  endpoints: [
    { endpointId: endpointIdOf(url), endpoint: new URL(url).href, secret: 'whsec_AAAA', events: ['*'] },
  ],
  options: { from: 'beginning', initialBackoffMs: 40, maxBackoffMs: 200, timeoutMs: 30_000 },
});
await outbox.start();
process.stdout.write('started\n');
