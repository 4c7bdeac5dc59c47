/**
 * A self-signed certificate for tests of TLS transports (SIP over TLS, WSS). Made once per process
 * with the `openssl` command line tool in a temporary directory, so no key material lives in the
 * repository. Valid for `localhost`, 127.0.0.1 and ::1.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedCertificate {
  readonly certPath: string;
  readonly keyPath: string;
  /** PEM text of the certificate. */
  readonly cert: string;
  /** PEM text of the unencrypted private key. */
  readonly key: string;
}

let cached: SelfSignedCertificate | undefined;

export function selfSignedCertificate(): SelfSignedCertificate {
  if (cached) return cached;
  const directory = mkdtempSync(join(tmpdir(), 'switchboard-tls-'));
  const certPath = join(directory, 'cert.pem');
  const keyPath = join(directory, 'key.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '30',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1',
        '-keyout',
        keyPath,
        '-out',
        certPath,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw new Error('selfSignedCertificate: the `openssl` command is not installed (needed for TLS tests)');
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`selfSignedCertificate: openssl failed: ${stderr || (err as Error).message}`);
  }
  cached = { certPath, keyPath, cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  return cached;
}
