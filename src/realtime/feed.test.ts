import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSqliteJournal, type SqliteJournal } from '../journal/sqlite-journal.js';
import { createRealtimeFeed, type RealtimeFeedHandle } from './feed.js';
import { availabilityFact, fixtureDirectory, serviceCallFacts } from './scenario.fixture.js';
import type { RealtimeEvent } from './types.js';

describe('createRealtimeFeed', () => {
  const opened: { journal: SqliteJournal; feeds: RealtimeFeedHandle[] }[] = [];
  afterEach(async () => {
    for (const { journal, feeds } of opened.splice(0)) {
      for (const feed of feeds) feed.close();
      await journal.close();
    }
  });

  function open(bufferEvents?: number) {
    const journal = openSqliteJournal(join(mkdtempSync(join(tmpdir(), 'feed-')), 'journal.db'), {
      groupCommitMs: 5,
    });
    const feed = createRealtimeFeed({ journal, directory: fixtureDirectory, bufferEvents });
    opened.push({ journal, feeds: [feed] });
    return { journal, feed, feeds: opened[opened.length - 1]!.feeds };
  }

  it('delivers events live only once their facts are durable, in journal order', async () => {
    const { journal, feed } = open();
    const live: RealtimeEvent[] = [];
    feed.subscribe((event) => live.push(event));
    for (const fact of serviceCallFacts('c1')) journal.append(fact);
    expect(live).toEqual([]); // appended, not yet committed
    await journal.flush();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(live.length).toBe(18);
    expect(feed.lastSeq()).toBe(journal.lastSeq());
    const order = live.map((e) => [e.seq, Number(e.eventId.split('-')[1])] as const);
    expect(order).toEqual([...order].sort((x, y) => x[0] - y[0] || x[1] - y[1]));
  });

  it('since: from memory, from the journal (small buffer, a fresh feed after a restart) — the same events', async () => {
    const { journal, feed, feeds } = open(5);
    const live: RealtimeEvent[] = [];
    feed.subscribe((event) => live.push(event));
    for (const fact of serviceCallFacts('c1')) journal.append(fact);
    journal.append(availabilityFact);
    for (const fact of serviceCallFacts('c2')) journal.append(fact);
    await journal.flush();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(live.length).toBe(37);
    // The whole history through the journal (the buffer holds only the last few).
    expect(await feed.since(0)).toEqual(live);
    // From the middle of a call: the call's earlier facts prime the replay.
    const middle = live[10]!.seq;
    expect(await feed.since(middle)).toEqual(live.filter((e) => e.seq > middle));
    // Bounded: whole entries only.
    const page = await feed.since(0, 4);
    expect(page.length).toBeGreaterThanOrEqual(4);
    expect(page).toEqual(live.slice(0, page.length));
    expect(page[page.length - 1]!.seq).not.toBe(live[page.length]!.seq);
    // A fresh feed over the same journal (a restart) replays the same ids and payloads.
    const fresh = createRealtimeFeed({ journal, directory: fixtureDirectory });
    feeds.push(fresh);
    expect(await fresh.since(middle)).toEqual(live.filter((e) => e.seq > middle));
    expect(await fresh.since(journal.lastSeq())).toEqual([]);
  });
});
