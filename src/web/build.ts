/**
 * Builds the browser bundles at build time (`npm run build` → scripts/build-web.ts, and the vitest
 * global set-up): the webphone SDK as one ES module with JsSIP inside, its TypeScript declarations,
 * and the console's script, styles and page. The running server only reads the files this writes
 * (./assets.ts), so neither esbuild nor TypeScript — both dev dependencies — is needed in production.
 *
 * This module is build tooling: tsconfig.build.json leaves it out of dist/.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';
import { WEB_ASSET_FILES } from './assets.js';

const SOURCES = fileURLToPath(new URL('../', import.meta.url));
const WEBPHONE_ENTRY = join(SOURCES, 'webphone', 'webphone.ts');
const CONSOLE_DIR = join(SOURCES, 'console');

export interface BundleOptions {
  /** Leave `jssip` as an import (the npm package) instead of bundling it in (the served module). */
  externalJsSip?: boolean;
  /** Minify (default true: what the platform serves; the npm package ships readable code). */
  minify?: boolean;
}

async function bundle(entry: string, options: BundleOptions = {}): Promise<string> {
  const result = await build({
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
  if (!output) throw new Error(`esbuild produced no output for ${entry}`);
  return output.text;
}

/** The SDK as one ES module (JsSIP included unless `externalJsSip`). */
export async function webPhoneModule(options: BundleOptions = {}): Promise<string> {
  const banner = '/* Switchboard webphone SDK (ES module). TypeScript declarations: webphone.d.ts */\n';
  return banner + (await bundle(WEBPHONE_ENTRY, options));
}

/**
 * The SDK's declarations. webphone.ts is written for isolated declarations (every export has an
 * explicit type), so TypeScript emits them from that one file without a whole-program check.
 */
export async function webPhoneDeclarations(): Promise<string> {
  const output = ts.transpileDeclaration(await readFile(WEBPHONE_ENTRY, 'utf8'), {
    fileName: 'webphone.ts',
    reportDiagnostics: true,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, strict: true },
  });
  if (output.diagnostics && output.diagnostics.length > 0) {
    const messages = output.diagnostics
      .map((diagnostic) => ts.flattenDiagnosticMessageText(diagnostic.messageText, ' '))
      .join('; ');
    throw new Error(`webphone.ts does not allow isolated declarations: ${messages}`);
  }
  return output.outputText;
}

/** Writes through a temporary file and a rename, so that a server reading the folder never sees half a file. */
async function writeAtomically(path: string, body: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, body);
  await rename(temporary, path);
}

/** Builds every served browser file into `outDir` (the folder ./assets.ts serves from). */
export async function buildWebAssets(outDir: string): Promise<void> {
  const [webphone, declarations, consoleScript, consoleStyles, consolePage] = await Promise.all([
    webPhoneModule(),
    webPhoneDeclarations(),
    bundle(join(CONSOLE_DIR, 'app.ts')),
    readFile(join(CONSOLE_DIR, 'console.css'), 'utf8'),
    readFile(join(CONSOLE_DIR, 'index.html'), 'utf8'),
  ]);
  const files: Record<keyof typeof WEB_ASSET_FILES, string> = {
    webphone,
    webphoneDeclarations: declarations,
    consoleScript,
    consoleStyles,
    consolePage,
  };
  await Promise.all(
    Object.entries(files).map(([name, body]) =>
      writeAtomically(join(outDir, WEB_ASSET_FILES[name as keyof typeof WEB_ASSET_FILES]), body),
    ),
  );
}
