/**
 * vitest global set-up: builds the browser bundles once before any test, exactly as `npm run build`
 * does, so that the servers the tests start serve /webphone.js and the console from build output
 * as in production (src/web/assets.ts reads dist/public). esbuild makes this take about a second.
 */
import { fileURLToPath } from 'node:url';
import { buildWebAssets } from '../src/web/build.js';

export default async function setup(): Promise<void> {
  await buildWebAssets(fileURLToPath(new URL('../dist/public/', import.meta.url)));
}
