/**
 * The browser side of the platform as a Fastify plugin: the console at `/` and the webphone SDK
 * at `/webphone.js` (ES module; declarations at `/webphone.d.ts`). The files are built by
 * `npm run build` (./build.ts) and only read here (./assets.ts); responses carry an ETag and
 * revalidate.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { sendHttpError } from '../api/error-handler.js';
import type { Directory } from '../config/types.js';
import { type BuiltAsset, createWebAssets, defaultWebAssetsDir, type WebAssetName } from './assets.js';

export interface WebDeps {
  directory: Directory;
  /** The folder `npm run build` wrote the browser files to (default: dist/public of this package). */
  assetsDir?: string;
}

/** The console talks only to its own origin (REST, diagnostics, SIP WebSocket); media may be blobs. */
const CONSOLE_CSP = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "media-src 'self' blob: mediastream:",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

function sendAsset(
  request: FastifyRequest,
  reply: FastifyReply,
  asset: BuiltAsset,
  extraHeaders: Record<string, string> = {},
) {
  reply
    .header('ETag', asset.etag)
    .header('Cache-Control', 'no-cache')
    .header('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(extraHeaders)) reply.header(name, value);
  if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
  return reply.type(asset.contentType).send(asset.body);
}

export const webPlugin: FastifyPluginAsync<WebDeps> = async (app, deps) => {
  app.setErrorHandler(sendHttpError);
  const assets = createWebAssets({
    dir: deps.assetsDir ?? defaultWebAssetsDir(),
    sipDomain: deps.directory.tenant.domain,
  });
  const serve =
    (name: WebAssetName, extraHeaders: Record<string, string> = {}) =>
    async (request: FastifyRequest, reply: FastifyReply) =>
      sendAsset(request, reply, await assets.get(name), extraHeaders);

  app.get('/', serve('consolePage', { 'Content-Security-Policy': CONSOLE_CSP }));
  app.get('/console/app.js', serve('consoleScript'));
  app.get('/console/console.css', serve('consoleStyles'));
  app.get(
    '/webphone.js',
    serve('webphone', { 'X-TypeScript-Types': '/webphone.d.ts', 'Access-Control-Allow-Origin': '*' }),
  );
  app.get('/webphone.d.ts', serve('webphoneDeclarations', { 'Access-Control-Allow-Origin': '*' }));
};
