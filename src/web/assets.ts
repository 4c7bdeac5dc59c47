/**
 * The browser bundles the platform serves — the webphone SDK as an ES module with its TypeScript
 * declarations, and the console's script, styles and page — built from the TypeScript sources in
 * src/webphone and src/console with esbuild on first request, then cached for the process.
 *
 * Those folders hold browser code only and are not part of the Node build (tsconfig.build.json), so
 * the sources are found next to this module (src/web → src/…) or, when running from dist/,
 * in the package's src/ folder (dist/web → ../../src/…).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DiagnosticsError } from '../diagnostics/errors.js';

export interface BuiltAsset {
  body: string;
  contentType: string;
  /** Strong ETag (quoted SHA-256 prefix of the body). */
  etag: string;
}

type BrowserSource = 'webphone' | 'console';

const MARKER: Record<BrowserSource, string> = { webphone: 'webphone.ts', console: 'app.ts' };

/** Absolute path of src/webphone or src/console. */
export function browserSourceDir(name: BrowserSource): string {
  const candidates = [
    new URL(`../${name}/`, import.meta.url),
    new URL(`../../src/${name}/`, import.meta.url),
  ];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(join(dir, MARKER[name]))) return dir;
  }
  throw new DiagnosticsError(
    'ASSET_UNAVAILABLE',
    `The ${name} sources (src/${name}/${MARKER[name]}) are not installed next to the platform`,
  );
}

function asset(body: string, contentType: string): BuiltAsset {
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
  };
}

const cache = new Map<string, Promise<BuiltAsset>>();

/** Build once per process; a failed build is forgotten so that the next request tries again. */
function cached(key: string, build: () => Promise<BuiltAsset>): Promise<BuiltAsset> {
  let pending = cache.get(key);
  if (!pending) {
    pending = build();
    cache.set(key, pending);
    pending.catch(() => cache.delete(key));
  }
  return pending;
}

async function loadEsbuild(): Promise<typeof import('esbuild')> {
  try {
    return await import('esbuild');
  } catch (cause) {
    throw new DiagnosticsError(
      'ASSET_UNAVAILABLE',
      'esbuild is not installed: the browser bundles cannot be built',
      { cause },
    );
  }
}

export interface BundleOptions {
  /** Leave `jssip` as an import (the npm package) instead of bundling it in (the served module). */
  externalJsSip?: boolean;
  /** Minify (default true: what the platform serves; the npm package ships readable code). */
  minify?: boolean;
}

async function bundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const esbuild = await loadEsbuild();
  try {
    const result = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
      legalComments: 'inline',
      minify: options.minify ?? true,
      external: options.externalJsSip ? ['jssip'] : [],
      define: { 'process.env.NODE_ENV': '"production"' },
    });
    const output = result.outputFiles[0];
    if (!output) throw new Error('esbuild produced no output');
    return output.text;
  } catch (cause) {
    throw new DiagnosticsError('ASSET_UNAVAILABLE', `building ${entry} failed: ${String(cause)}`, { cause });
  }
}

const JS = 'text/javascript; charset=utf-8';

/** The SDK as one ES module (JsSIP included unless `externalJsSip`). */
export function webPhoneModule(options: BundleOptions = {}): Promise<BuiltAsset> {
  return cached(`webphone.js:${options.externalJsSip === true}:${options.minify ?? true}`, async () => {
    const source = join(browserSourceDir('webphone'), 'webphone.ts');
    const banner = '/* Switchboard webphone SDK (ES module). TypeScript declarations: webphone.d.ts */\n';
    return asset(banner + (await bundle(source, options)), JS);
  });
}

/** The SDK's declarations, generated from its single public source file (isolated declarations). */
export function webPhoneDeclarations(): Promise<BuiltAsset> {
  return cached('webphone.d.ts', async () => {
    const path = join(browserSourceDir('webphone'), 'webphone.ts');
    let ts: typeof import('typescript');
    try {
      ts = (await import('typescript')).default;
    } catch (cause) {
      throw new DiagnosticsError(
        'ASSET_UNAVAILABLE',
        'typescript is not installed: the SDK declarations cannot be generated',
        { cause },
      );
    }
    const output = ts.transpileDeclaration(await readFile(path, 'utf8'), {
      fileName: 'webphone.ts',
      reportDiagnostics: true,
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, strict: true },
    });
    if (output.diagnostics && output.diagnostics.length > 0) {
      const messages = output.diagnostics
        .map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' '))
        .join('; ');
      throw new DiagnosticsError(
        'ASSET_UNAVAILABLE',
        `webphone.ts does not allow isolated declarations: ${messages}`,
      );
    }
    return asset(output.outputText, 'application/typescript; charset=utf-8');
  });
}

export function consoleScript(): Promise<BuiltAsset> {
  return cached('console.js', async () =>
    asset(await bundle(join(browserSourceDir('console'), 'app.ts')), JS),
  );
}

export function consoleStyles(): Promise<BuiltAsset> {
  return cached('console.css', async () =>
    asset(
      await readFile(join(browserSourceDir('console'), 'console.css'), 'utf8'),
      'text/css; charset=utf-8',
    ),
  );
}

const escapeAttribute = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The console page, with the tenant's SIP domain filled in (the softphone registers in it). */
export function consolePage(config: { sipDomain: string }): Promise<BuiltAsset> {
  return cached(`index.html:${config.sipDomain}`, async () => {
    const template = await readFile(join(browserSourceDir('console'), 'index.html'), 'utf8');
    return asset(
      template.replaceAll('{{SIP_DOMAIN}}', escapeAttribute(config.sipDomain)),
      'text/html; charset=utf-8',
    );
  });
}
