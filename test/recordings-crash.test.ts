/**
 * A recorded call cut by a crash (issue 13): `switchboard start` (own rtpengine, a queue with
 * `recordInbound`) is killed with SIGKILL while A and C talk. The next start on the same data
 * directory stops the rtpengine the dead process left behind, ends the call (crash recovery) and
 * still renders the recording of the part before the crash: stereo, A's tone on channel 0, C's on
 * channel 1, listed on the call's records.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMp3 } from '../src/recordings/testing.js';
import { dominantTone } from '../src/testing/audio.js';
import { RtpPeer } from '../src/testing/rtp-peer.js';
import { TestUa } from '../src/testing/test-ua.js';
import { type CliChild, startArgs, startCli, waitForReady } from './support/cli-process.js';
import { untilAgentConnected } from './support/media-phones.js';
import { freeTcpPort, RestClient, waitFor } from './support/platform.js';

const DOMAIN = 'switchboard.local';
const TONES = [500, 1000, 1500];
const CONFIG = `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", members: [c@example.com], recordInbound: true }
`;

const dataDir = mkdtempSync(join(tmpdir(), 'sb-rec-crash-'));
const opened: { close(): Promise<void> }[] = [];
const children: CliChild[] = [];

afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  for (const child of children) {
    child.process.kill('SIGTERM');
    await child.exited;
  }
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a recorded call cut by SIGKILL', () => {
  it('still yields its records and the recording of the part before the crash', async () => {
    const configPath = join(dataDir, 'tenant.yaml');
    writeFileSync(configPath, CONFIG);
    const [httpPort, sipPort] = [await freeTcpPort(), await freeTcpPort()];
    const args = startArgs({ configPath, dataDir, httpPort, sipPort });
    const first = startCli(args);
    children.push(first);
    await waitForReady(first);
    expect(first.output()).toContain('media: own rtpengine');

    const phone = async (extension: string, password: string) => {
      const media = await RtpPeer.open({ host: '127.0.0.1' });
      const ua = await TestUa.overUdp(
        { host: '127.0.0.1', port: sipPort },
        { extension, password, domain: DOMAIN, media },
      );
      opened.push(media, ua);
      expect((await ua.register()).status).toBe(200);
      return ua;
    };
    const a = await phone('1001', 'secret-a');
    const c = await phone('1003', 'secret-c');
    c.answerAfterRinging(20);
    const call = a.call('100');
    const answer = await call.waitForFinal(10_000);
    expect(answer.status).toBe(200);
    const callId = answer.headers.get('X-Server-Call-Id')!;
    await untilAgentConnected(a, answer);
    a.media!.startTone(1000);
    c.media!.startTone(500);
    await c.media!.waitForTone(1000, TONES, { timeoutMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 2000));

    first.process.kill('SIGKILL');
    await first.exited;
    a.media!.stop();
    c.media!.stop();

    const second = startCli(args);
    children.push(second);
    await waitForReady(second);
    expect(second.output()).toContain('stopping the rtpengine a previous run left behind');

    const base = `http://127.0.0.1:${httpPort}/`;
    const admin = await RestClient.signIn(base, 'admin@example.com', 'secret-admin');
    const header = await waitFor(
      async () => {
        const rows = await admin.list<{ Result: string; RecordingIds: string[] }>('/servicecall', {
          CallId: callId,
        });
        return rows[0]?.Result ? rows[0] : undefined;
      },
      15_000,
      'the service call header after recovery',
    );
    expect(header.RecordingIds).toHaveLength(1);
    const recordingId = header.RecordingIds[0]!;
    // The capture has no metadata (its engine was stopped, not asked to delete the call): it is
    // rendered from the ports journaled with the recording once it has settled.
    const info = await waitFor(
      async () => {
        const response = await admin.get(`/calls/recordings/${recordingId}`);
        return response.status === 200 ? (response.body as { URL: string; Duration: number }) : undefined;
      },
      60_000,
      'the recording rendered after the crash',
    );
    const file = await fetch(new URL(info.URL, base));
    expect(file.status).toBe(200);
    const { channels: channelData, sampleRate } = await decodeMp3(new Uint8Array(await file.arrayBuffer()));
    const seconds = channelData[0]!.length / sampleRate;
    console.log(`recording after the crash: ${seconds.toFixed(2)} s (Duration ${info.Duration})`);
    expect(seconds).toBeGreaterThan(1.5);
    const from = Math.round(sampleRate * 0.3);
    expect(dominantTone(channelData[0]!.subarray(from, from + sampleRate), sampleRate, TONES).frequency).toBe(
      1000,
    );
    expect(dominantTone(channelData[1]!.subarray(from, from + sampleRate), sampleRate, TONES).frequency).toBe(
      500,
    );
  }, 120_000);
});
