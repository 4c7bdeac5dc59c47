/**
 * `npm run build`, second step: the browser bundles (webphone SDK, its .d.ts, the console) into
 * dist/public, where the compiled server serves them from (src/web/assets.ts).
 */
import { fileURLToPath } from 'node:url';
import { buildWebAssets } from '../src/web/build.js';

const outDir = fileURLToPath(new URL('../dist/public/', import.meta.url));
const started = performance.now();
await buildWebAssets(outDir);
console.log(`web assets: wrote ${outDir} in ${Math.round(performance.now() - started)} ms`);
