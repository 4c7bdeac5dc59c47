/**
 * The browser files the platform serves — the webphone SDK as an ES module with its TypeScript
 * declarations, and the console's script, styles and page — read from the folder `npm run build`
 * wrote them to (./build.ts). Nothing is compiled at run time.
 *
 * The folder is `dist/public`: next to the compiled server (`dist/web/…` → `dist/public`) or, when
 * the server runs from its TypeScript sources (vitest, tsx), in the package's dist/ folder
 * (`src/web/…` → `dist/public`), where the vitest global set-up builds it before the tests.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from '../api/errors.js';

/** File names inside the assets folder. */
export const WEB_ASSET_FILES = {
  webphone: 'webphone.js',
  webphoneDeclarations: 'webphone.d.ts',
  consoleScript: 'console/app.js',
  consoleStyles: 'console/console.css',
  consolePage: 'console/index.html',
} as const;

export type WebAssetName = keyof typeof WEB_ASSET_FILES;

const CONTENT_TYPES: Record<WebAssetName, string> = {
  webphone: 'text/javascript; charset=utf-8',
  webphoneDeclarations: 'application/typescript; charset=utf-8',
  consoleScript: 'text/javascript; charset=utf-8',
  consoleStyles: 'text/css; charset=utf-8',
  consolePage: 'text/html; charset=utf-8',
};

export interface BuiltAsset {
  body: string;
  contentType: string;
  /** Strong ETag (quoted SHA-256 prefix of the body). */
  etag: string;
}

/** Where the build writes the browser files, seen from this module (compiled or source). */
export function defaultWebAssetsDir(): string {
  const compiled = fileURLToPath(new URL('../public/', import.meta.url));
  const fromSource = fileURLToPath(new URL('../../dist/public/', import.meta.url));
  return existsSync(join(compiled, WEB_ASSET_FILES.webphone)) ? compiled : fromSource;
}

function asset(body: string, contentType: string): BuiltAsset {
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

const escapeAttribute = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export interface WebAssets {
  get(name: WebAssetName): Promise<BuiltAsset>;
}

/**
 * Reads the built files on first request and keeps them for the life of the server. A missing
 * file (the build has not run) is a 503 and is looked for again on the next request, so start-up
 * never fails for it.
 */
export function createWebAssets(config: { dir: string; sipDomain: string }): WebAssets {
  const cache = new Map<WebAssetName, Promise<BuiltAsset>>();
  const load = async (name: WebAssetName): Promise<BuiltAsset> => {
    const path = join(config.dir, WEB_ASSET_FILES[name]);
    let body: string;
    try {
      body = await readFile(path, 'utf8');
    } catch (cause) {
      throw new HttpError('ASSET_UNAVAILABLE', `${WEB_ASSET_FILES[name]} is not built: run npm run build`, {
        cause,
      });
    }
    // The console page carries the tenant's SIP domain (the softphone registers in it).
    if (name === 'consolePage') body = body.replaceAll('{{SIP_DOMAIN}}', escapeAttribute(config.sipDomain));
    return asset(body, CONTENT_TYPES[name]);
  };
  return {
    get(name) {
      let pending = cache.get(name);
      if (!pending) {
        pending = load(name);
        cache.set(name, pending);
        pending.catch(() => cache.delete(name));
      }
      return pending;
    },
  };
}
