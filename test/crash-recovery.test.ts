/**
 * Crash recovery with a real process: `switchboard start` as a child, calls up, SIGKILL. On
 * restart post-processing ends every call that was in progress with Result Failed at the last
 * known time; no record is lost and none is duplicated. Also: SIGTERM shuts down cleanly with
 * every record written, and a broken config stops start-up with a message naming line and field.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestUa } from '../src/testing/test-ua.js';
import { selfSignedCertificate } from '../src/testing/tls-cert.js';
import { startArgs, startCli, waitForReady } from './support/cli-process.js';
import { freeTcpPort as freePort, RestClient } from './support/platform.js';

const CONFIG = `
domain: switchboard.local
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", members: [b@example.com, c@example.com] }
`;

describe('a switchboard process', () => {
  let dataDir: string;
  let configPath: string;
  let httpPort: number;
  let sipPort: number;
  const uas: TestUa[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-crash-'));
    configPath = join(dataDir, 'tenant.yaml');
    writeFileSync(configPath, CONFIG);
    httpPort = await freePort();
    sipPort = await freePort();
  });

  afterAll(async () => {
    await Promise.all(uas.map((ua) => ua.close()));
    rmSync(dataDir, { recursive: true, force: true });
  });

  const args = () => startArgs({ configPath, dataDir, httpPort, sipPort });
  const ua = async (extension: string, password: string) => {
    const agent = await TestUa.overWebSocket(`ws://127.0.0.1:${httpPort}/sip`, {
      extension,
      password,
      domain: 'switchboard.local',
    });
    uas.push(agent);
    expect((await agent.register()).status).toBe(200);
    return agent;
  };

  it('ends calls left in progress by a SIGKILL with Result Failed, losing and duplicating nothing', async () => {
    const first = startCli(args());
    await waitForReady(first);
    expect(first.output()).toMatch(
      /switchboard ready: sip udp 127\.0\.0\.1:\d+, sip tcp 127\.0\.0\.1:\d+, sip ws ws:\/\/127\.0\.0\.1:\d+\/sip/,
    );

    const [a, b, c] = await Promise.all([
      ua('1001', 'secret-a'),
      ua('1002', 'secret-b'),
      ua('1003', 'secret-c'),
    ]);
    b.onIncoming((call) => call.answer());
    c.onIncoming((call) => call.answer());
    // One direct call and one queue call connected when the process dies.
    const direct = a.call('1002');
    const directFinal = await direct.waitForFinal();
    expect(directFinal.status).toBe(200);
    const caller2 = await TestUa.overWebSocket(`ws://127.0.0.1:${httpPort}/sip`, {
      extension: '1000',
      password: 'secret-admin',
      domain: 'switchboard.local',
    });
    uas.push(caller2);
    const queued = caller2.call('100');
    const queuedFinal = await queued.waitForFinal();
    expect(queuedFinal.status).toBe(200);
    const directCallId = directFinal.headers.get('X-Server-Call-Id')!;
    const queuedCallId = queuedFinal.headers.get('X-Server-Call-Id')!;
    // The answer facts are durable once the group commit has run (a few ms).
    await new Promise((resolve) => setTimeout(resolve, 300));

    first.process.kill('SIGKILL');
    expect(await first.exited).toBeNull();
    await Promise.all(uas.splice(0).map((agent) => agent.close()));

    const second = startCli(args());
    await waitForReady(second);
    expect(second.output()).toMatch(/ended 2 call\(s\) left in progress/);
    const admin = await RestClient.signIn(
      `http://127.0.0.1:${httpPort}/`,
      'admin@example.com',
      'secret-admin',
    );

    const directEvents = await admin.list<Record<string, unknown>>('/calls', { CallId: directCallId });
    expect(directEvents).toHaveLength(2); // A outbound, B inbound — once each
    for (const event of directEvents) {
      expect(event.Result).toBe('Failed');
      expect(event.EndTime).not.toBeNull();
    }
    const header = (await admin.list<Record<string, unknown>>('/servicecall', { CallId: queuedCallId }))[0]!;
    expect(header.Result).toBe('Failed');
    expect(header.AnswerTime).not.toBeNull();
    const queueEvents = await admin.list<Record<string, unknown>>('/calls', { CallId: queuedCallId });
    // The caller's own DirectCall (admin placed it) and the agent's ServiceCall, each once.
    expect(queueEvents.map((e) => e.CallTypeString).sort()).toEqual(['DirectCall', 'ServiceCall']);
    const details = await admin.list<Record<string, unknown>>(`/servicecall/${queuedCallId}/details`);
    expect(details.at(-1)).toMatchObject({ EventTypeString: 'CallDisconnect' });
    expect(details.filter((d) => d.EventTypeString === 'CallDisconnect')).toHaveLength(1);

    // A clean SIGTERM after that: exits 0, and a third start finds nothing to recover.
    second.process.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(second.output()).toContain('switchboard: stopped');
    const third = startCli(args());
    await waitForReady(third);
    expect(third.output()).not.toMatch(/left in progress/);
    expect(await admin.list('/calls', { CallId: directCallId })).toHaveLength(2);
    third.process.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  }, 60_000);

  it('refuses to start with a broken config, naming the file, line and field', async () => {
    const broken = join(dataDir, 'broken.yaml');
    writeFileSync(
      broken,
      'domain: x\nusers:\n  - { username: a@example.com, extension: 1001x, password: p }\n',
    );
    const child = startCli([
      'start',
      '--config',
      broken,
      '--data',
      dataDir,
      '--http-port',
      '0',
      '--sip-port',
      '0',
    ]);
    expect(await child.exited).toBe(2);
    expect(child.output()).toMatch(/broken\.yaml:3:\d+: users\[0\]\.extension/);
  });

  it('rejects unknown flags and bad ports with a usage message', async () => {
    const child = startCli(['start', '--http-port', 'eighty']);
    expect(await child.exited).toBe(2);
    expect(child.output()).toContain('--http-port must be a port number');
  });

  it('refuses TLS files it cannot use, naming the file, and serves HTTPS, WSS and SIP over TLS with good ones', async () => {
    const { certPath, keyPath } = selfSignedCertificate();
    const alone = startCli(['start', '--tls-cert', certPath]);
    expect(await alone.exited).toBe(2);
    expect(alone.output()).toContain('--tls-cert and --tls-key go together');

    const missing = join(dataDir, 'missing.pem');
    const noFile = startCli([...args(), '--tls-cert', missing, '--tls-key', keyPath]);
    expect(await noFile.exited).toBe(2);
    expect(noFile.output()).toContain(`--tls-cert ${missing}: no such file`);

    const notPem = join(dataDir, 'not-a-key.pem');
    writeFileSync(notPem, 'hello\n');
    const badKey = startCli([...args(), '--tls-cert', certPath, '--tls-key', notPem]);
    expect(await badKey.exited).toBe(2);
    expect(badKey.output()).toContain(`--tls-key ${notPem}: not a PEM file`);

    const [securePort, tlsPort] = [await freePort(), await freePort()];
    const secureArgs = ['start', '--config', configPath, '--data', join(dataDir, 'tls')];
    const secure = startCli([
      ...secureArgs,
      ...['--http-port', String(securePort), '--sip-port', String(await freePort())],
      ...['--sip-tls-port', String(tlsPort), '--tls-cert', certPath, '--tls-key', keyPath],
    ]);
    try {
      await waitForReady(secure);
      expect(secure.output()).toMatch(
        new RegExp(
          `sip tls 127\\.0\\.0\\.1:${tlsPort}, sip wss wss://127\\.0\\.0\\.1:${securePort}/sip, https https://`,
        ),
      );
      const health = await new Promise<string>((resolve, reject) => {
        httpsGet(`https://127.0.0.1:${securePort}/health`, { rejectUnauthorized: false }, (response) => {
          let body = '';
          response.on('data', (chunk) => {
            body += chunk;
          });
          response.on('end', () => resolve(body));
        }).on('error', reject);
      });
      expect(JSON.parse(health)).toMatchObject({ status: 'ok' });
    } finally {
      secure.process.kill('SIGTERM');
      expect(await secure.exited).toBe(0);
    }
  });
});
