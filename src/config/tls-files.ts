/**
 * The TLS certificate and key given with `--tls-cert` / `--tls-key` (DESIGN.md §6): PEM files,
 * read once at start-up for SIP over TLS and for HTTPS/WSS. Every problem stops start-up with the
 * file it concerns named, before any port is opened.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { CONFIG_ERRORS, ConfigError } from './errors.js';

export interface TlsFiles {
  certPath: string;
  keyPath: string;
}

export interface TlsMaterial extends TlsFiles {
  cert: Buffer;
  key: Buffer;
}

function fail(detail: string, cause?: unknown): never {
  throw new ConfigError(
    'TLS_FILES_INVALID',
    `${CONFIG_ERRORS.TLS_FILES_INVALID.message}: ${detail}`,
    [],
    cause,
  );
}

function readPem(path: string, flag: string, label: RegExp): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    fail(`${flag} ${path}: ${reason}`, err);
  }
  if (!label.test(data.toString('latin1'))) fail(`${flag} ${path}: not a PEM file of the right kind`);
  return data;
}

/** Reads and checks both files; throws ConfigError TLS_FILES_INVALID naming the file at fault. */
export function loadTlsMaterial(files: TlsFiles): TlsMaterial {
  const cert = readPem(files.certPath, '--tls-cert', /-----BEGIN CERTIFICATE-----/);
  const key = readPem(files.keyPath, '--tls-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    fail(
      `--tls-cert ${files.certPath} and --tls-key ${files.keyPath} do not fit together: ${(err as Error).message}`,
      err,
    );
  }
  return { ...files, cert, key };
}
