/**
 * Builds the npm package `@switchboard/webphone` into ./dist: the SDK as a readable ES module that
 * imports `jssip` (a dependency of the package), and its declarations. `npm run build` (or `npm
 * pack`, which runs it) in this folder. The platform serves its own bundle with JsSIP included.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { webPhoneDeclarations, webPhoneModule } from '../web/build.js';

const outDir = new URL('./dist/', import.meta.url);
const [module, declarations] = await Promise.all([
  webPhoneModule({ externalJsSip: true, minify: false }),
  webPhoneDeclarations(),
]);
await mkdir(outDir, { recursive: true });
await writeFile(new URL('webphone.js', outDir), module);
await writeFile(new URL('webphone.d.ts', outDir), declarations);
console.log(`@switchboard/webphone: wrote dist/webphone.js (${module.length} bytes) and dist/webphone.d.ts`);
