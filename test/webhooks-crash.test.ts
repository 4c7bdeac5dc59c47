/**
 * Webhooks across a crash (issue 17): `switchboard start` with a tenant file whose `webhooks:` names
 * a local receiver is killed with SIGKILL while the receiver holds the first delivery open. The
 * next start on the same data directory delivers that event again (same webhook-id) and the rest
 * after it, in order, signed. The events: user A changing availability over REST (UserAvailability).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliChild, startArgs, startCli, waitForReady } from './support/cli-process.js';
import { freeTcpPort, RestClient } from './support/platform.js';
import { hasValidSignature, WebhookReceiver } from './support/webhook-receiver.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const AVAILABILITIES = ['Busy', 'DoNotDisturb', 'Available'];

const dataDir = mkdtempSync(join(tmpdir(), 'sb-webhooks-crash-'));
const receiver = new WebhookReceiver();
const children: CliChild[] = [];

afterAll(async () => {
  for (const child of children) {
    if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill('SIGTERM');
    await child.exited;
  }
  await receiver.down();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('webhooks and a platform killed with SIGKILL mid-delivery', () => {
  it('redeliver the event in flight and the rest after a restart, in order', async () => {
    receiver.behavior = 'hold';
    await receiver.up();
    const configPath = join(dataDir, 'tenant.yaml');
    writeFileSync(
      configPath,
      [
        'domain: switchboard.local',
        'media: { rtpengine: off }',
        'users:',
        '  - { username: a@example.com, extension: "1001", password: secret-a }',
        '  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }',
        'webhooks:',
        `  - { endpoint: "${receiver.url}", secret: ${SECRET}, events: [UserAvailability] }`,
        '',
      ].join('\n'),
    );
    const [httpPort, sipPort] = [await freeTcpPort(), await freeTcpPort()];
    const args = startArgs({ configPath, dataDir, httpPort, sipPort });
    const first = startCli(args);
    children.push(first);
    await waitForReady(first);

    const base = `http://127.0.0.1:${httpPort}/`;
    const a = await RestClient.signIn(base, 'a@example.com', 'secret-a');
    for (const Availability of AVAILABILITIES) {
      const answer = await a.post(`/users/${a.userId}/availability`, { Availability });
      expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
    }
    // The first delivery is in flight (held open by the receiver) when the platform dies.
    await receiver.until(() => receiver.requests.length >= 1, 10_000, 'the first delivery');
    const inFlight = receiver.requests[0]!.headers['webhook-id'];
    first.process.kill('SIGKILL');
    await first.exited;
    receiver.release();
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.delivered()).toEqual([]);

    receiver.behavior = 'ok';
    const second = startCli(args);
    children.push(second);
    await waitForReady(second);
    await receiver.until(
      () => receiver.delivered().length >= AVAILABILITIES.length,
      20_000,
      'the deliveries after the restart',
    );
    const delivered = receiver.delivered();
    const ids = delivered.map((request) => request.headers['webhook-id']);
    expect(ids[0]).toBe(inFlight);
    expect(new Set(ids).size).toBe(ids.length);
    expect(delivered.map((request) => JSON.parse(request.body).Availability)).toEqual(AVAILABILITIES);
    // Journal order: the event ids' sequence numbers increase.
    const seqs = ids.map((id) => Number(String(id).split('-')[0]));
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    for (const request of delivered) {
      expect(hasValidSignature(SECRET, request)).toBe(true);
      expect(request.headers['x-benemen-event']).toBe('UserAvailability');
      expect(request.headers['x-benemen-token']).toBe(SECRET);
    }
    // The admin view after the restart: all delivered, the first with its two attempts.
    const admin = await RestClient.signIn(base, 'admin@example.com', 'secret-admin');
    const rows = await admin.list<{ EventId: string; Status: string; Attempts: number }>(
      '/webhooks/deliveries',
    );
    expect(rows.map((row) => row.EventId)).toEqual([...ids].reverse());
    expect(rows.every((row) => row.Status === 'Delivered')).toBe(true);
    // The attempt cut by the kill was never recorded: the row counts only the one that succeeded.
    expect(rows.find((row) => row.EventId === inFlight)!.Attempts).toBe(1);
  }, 90_000);
});
