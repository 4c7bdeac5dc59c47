/**
 * `switchboard start [--config FILE] [--data DIR] [--http-port N] [--sip-port N] [--sip-tls-port N]
 * [--tls-cert FILE] [--tls-key FILE] [--host ADDR] [--cluster nats://HOST:PORT --node-id NAME]`
 * (DESIGN.md §6, §13). Logs one ready line with the listening addresses and shuts down cleanly on
 * SIGTERM/SIGINT. DATABASE_URL=postgres://… switches the record store to PostgreSQL (a cluster
 * node needs it).
 */

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterOptions } from './cluster/node.js';
import { demoTenant } from './config/demo.js';
import { isConfigError } from './config/errors.js';
import { loadTenantFile, publicUrlForPort } from './config/load.js';
import { loadTlsMaterial, type TlsMaterial } from './config/tls-files.js';
import type { Tenant } from './config/types.js';
import { createLogger } from './logger.js';
import { startPlatform } from './platform.js';

const USAGE = `usage: switchboard start [--config FILE] [--data DIR] [--http-port N] [--sip-port N]
                         [--sip-tls-port N] [--tls-cert FILE] [--tls-key FILE] [--host ADDR]
                         [--cluster nats://HOST:PORT --node-id NAME]

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
  --cluster URL       run as one node of a cluster: the journal on NATS JetStream at URL
                      (nats-server 2.9 or later, with -js), registrations and agents shared,
                      the calls of a node that dies ended by another; needs DATABASE_URL
  --node-id NAME      this node's name in the cluster (letters, digits, - and _; unique)

  Location: calls reach a phone at its registered Contact; over the connection or address the
  REGISTER came from when NAT is evident, with RFC 5626 outbound, and over WebSocket.

  Media: with rtpengine on PATH (apt-get install rtpengine-daemon) the platform runs its own and
  anchors every call (WebRTC bridged to RTP, recordings); tenant media: { rtpengine: HOST:PORT }
  names another, media: { rtpengine: off } forces signalling-only.

  DATABASE_URL=postgres://...   keep call records in PostgreSQL instead of SQLite
  SWITCHBOARD_CLUSTER_PREFIX=NAME     names of the cluster's streams and buckets (default SB;
                                      several clusters can share one NATS)
  SWITCHBOARD_CLUSTER_HEARTBEAT_MS=N  heartbeat interval (default 1000); a node silent for three
                                      heartbeats is dead and its calls are ended by another`;

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

function clusterOptions(natsUrl: string, nodeId: string): ClusterOptions {
  const prefix = process.env.SWITCHBOARD_CLUSTER_PREFIX;
  const heartbeat = process.env.SWITCHBOARD_CLUSTER_HEARTBEAT_MS;
  if (prefix !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(prefix))
    fail(`SWITCHBOARD_CLUSTER_PREFIX must be 1-64 letters, digits, '-' or '_', got "${prefix}"`);
  const heartbeatMs = heartbeat === undefined ? undefined : Number(heartbeat);
  if (
    heartbeatMs !== undefined &&
    !(Number.isInteger(heartbeatMs) && heartbeatMs >= 50 && heartbeatMs <= 60_000)
  )
    fail(`SWITCHBOARD_CLUSTER_HEARTBEAT_MS must be 50-60000, got "${heartbeat}"`);
  return {
    natsUrl,
    nodeId,
    ...(prefix ? { prefix } : {}),
    ...(heartbeatMs ? { heartbeatMs } : {}),
    // Another node ended this node's calls and took its journal: stop, to be restarted clean.
    onFenced: () => {
      process.stderr.write(
        `switchboard: node ${nodeId} was fenced off its journal by another node; exiting\n`,
      );
      process.exit(75);
    },
  };
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
    cluster: { type: 'string' },
    'node-id': { type: 'string' },
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
  if ((values.cluster === undefined) !== (values['node-id'] === undefined))
    fail("--cluster and --node-id go together: the NATS URL and this node's name");
  if (values['node-id'] !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(values['node-id']))
    fail(`--node-id must be 1-64 letters, digits, '-' or '_', got "${values['node-id']}"`);
  if (values.cluster !== undefined && !/^(nats:\/\/)?[^\s/]+:\d+$/.test(values.cluster))
    fail(`--cluster must be nats://HOST:PORT, got "${values.cluster}"`);
  if (values.cluster !== undefined && !process.env.DATABASE_URL)
    fail('--cluster needs DATABASE_URL=postgres://… (the nodes share one record store)');
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
    ...(values.cluster ? { cluster: clusterOptions(values.cluster, values['node-id']!) } : {}),
  });
  const store = `${process.env.DATABASE_URL ? 'postgresql' : `sqlite ${dataDir}`}${
    values.cluster ? `, cluster node ${values['node-id']} on ${values.cluster}` : ''
  }`;
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
