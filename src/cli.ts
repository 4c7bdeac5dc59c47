/**
 * `switchboard start [--config FILE] [--data DIR] [--http-port N] [--sip-port N] [--sip-tls-port N]
 * [--tls-cert FILE] [--tls-key FILE] [--host ADDR]` (DESIGN.md §6). Logs one ready line with the listening addresses and shuts down cleanly on
 * SIGTERM/SIGINT. DATABASE_URL=postgres://… switches the record store to PostgreSQL.
 */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { demoTenant } from './config/demo.js';
import { isConfigError } from './config/errors.js';
import { loadTenantFile, publicUrlForPort } from './config/load.js';
import { loadTlsMaterial, type TlsMaterial } from './config/tls-files.js';
import type { Tenant } from './config/types.js';
import { createLogger } from './logger.js';
import { startPlatform } from './platform.js';

const USAGE = `usage: switchboard start [--config FILE] [--data DIR] [--http-port N] [--sip-port N]
                         [--sip-tls-port N] [--tls-cert FILE] [--tls-key FILE] [--host ADDR]

  --config FILE       tenant configuration (YAML); without it the built-in demo tenant runs
  --data DIR          where the embedded databases live (default ./data)
  --http-port N       REST API, console, webphone SDK and SIP over WebSocket at /sip (default 8080)
  --sip-port N        SIP over UDP and TCP, both on this port (default 5060)
  --sip-tls-port N    SIP over TLS (default 5061; only with --tls-cert and --tls-key)
  --tls-cert FILE     certificate chain (PEM), e.g. Let's Encrypt's fullchain.pem
  --tls-key FILE      its private key (PEM), e.g. privkey.pem
                      With both, SIP over TLS listens and the HTTP port serves HTTPS and WSS
                      (browsers allow microphones on secure origins only).
  --host ADDR         address to listen on (default 127.0.0.1)

  Location: calls reach a phone at its registered Contact; over the connection or address the
  REGISTER came from when NAT is evident, with RFC 5626 outbound, and over WebSocket.

  Media: with rtpengine on PATH (apt-get install rtpengine-daemon) the platform runs its own and
  anchors every call (WebRTC bridged to RTP, recordings); tenant media: { rtpengine: HOST:PORT }
  names another, media: { rtpengine: off } forces signalling-only.

  DATABASE_URL=postgres://...   keep call records in PostgreSQL instead of SQLite`;

function fail(message: string): never {
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(2);
}

function port(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    fail(`${flag} must be a port number (0-65535), got "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  const options = {
    config: { type: 'string' },
    data: { type: 'string' },
    'http-port': { type: 'string' },
    'sip-port': { type: 'string' },
    'sip-tls-port': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    host: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  } as const;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals[0] !== 'start' || positionals.length > 1)
    fail(`unknown command "${positionals.join(' ')}"\n${USAGE}`);

  const host = values.host ?? '127.0.0.1';
  const httpPort = port(values['http-port'], 8080, '--http-port');
  const sipPort = port(values['sip-port'], 5060, '--sip-port');
  const sipTlsPort = port(values['sip-tls-port'], 5061, '--sip-tls-port');
  const dataDir = resolve(values.data ?? 'data');
  const logger = createLogger();
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined))
    fail('--tls-cert and --tls-key go together: give both PEM files, or neither');
  if (values['sip-tls-port'] !== undefined && values['tls-cert'] === undefined)
    fail('--sip-tls-port needs --tls-cert and --tls-key');
  const secure = values['tls-cert'] !== undefined;
  const defaultPublicUrl = publicUrlForPort(httpPort, host, secure);
  let tenant: Tenant;
  let tls: TlsMaterial | undefined;
  try {
    if (secure)
      tls = loadTlsMaterial({ certPath: resolve(values['tls-cert']!), keyPath: resolve(values['tls-key']!) });
    tenant = values.config
      ? loadTenantFile(values.config, { defaultPublicUrl })
      : demoTenant({ publicUrl: defaultPublicUrl });
  } catch (err) {
    if (isConfigError(err)) fail(err.message);
    throw err;
  }

  const platform = await startPlatform({
    tenant,
    dataDir,
    databaseUrl: process.env.DATABASE_URL,
    host,
    httpPort,
    sipPort,
    sipTlsPort,
    tls,
    // As Asterisk's rtp.conf: room for 2,500 anchored calls, below Linux's ephemeral port range.
    mediaPorts: { min: 10_000, max: 20_000 },
    logger,
  });
  const store = process.env.DATABASE_URL ? 'postgresql' : `sqlite ${dataDir}`;
  const tlsPart = platform.sipTlsPort ? `, sip tls ${host}:${platform.sipTlsPort}` : '';
  const sip = `udp ${host}:${platform.sipPort}, sip tcp ${host}:${platform.sipPort}${tlsPart}`;
  logger.info(
    {
      sipUdp: `${host}:${platform.sipPort}`,
      sipTcp: `${host}:${platform.sipPort}`,
      sipTls: platform.sipTlsPort ? `${host}:${platform.sipTlsPort}` : undefined,
      sipWs: platform.wsUrl,
      http: platform.httpUrl,
      store,
      tenant: values.config ?? 'demo',
    },
    `switchboard ready: sip ${sip}, sip ${secure ? 'wss' : 'ws'} ${platform.wsUrl}, ${secure ? 'https' : 'http'} ${platform.httpUrl} (${values.config ? `config ${values.config}` : 'demo tenant'}, ${store})`,
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'switchboard: shutting down');
    platform
      .close()
      .then(() => {
        logger.info('switchboard: stopped');
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'switchboard: error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`switchboard: failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
