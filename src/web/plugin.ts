/**
 * The browser side of the platform as a Fastify plugin: the console at `/` and the webphone SDK
 * at `/webphone.js` (ES module; declarations at `/webphone.d.ts`). Bundles are built on first
 * request and cached (./web-assets.ts); responses carry an ETag and revalidate.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Directory } from '../config/types.js';
import { DiagnosticsError } from '../diagnostics/errors.js';
import {
  type BuiltAsset,
  consolePage,
  consoleScript,
  consoleStyles,
  webPhoneDeclarations,
  webPhoneModule,
} from './assets.js';

export interface WebDeps {
  directory: Directory;
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
  app.setErrorHandler((error, request, reply) => {
    const known =
      error instanceof DiagnosticsError
        ? error
        : new DiagnosticsError('INTERNAL', 'Internal error; it has been logged');
    request.log.error({ err: error }, 'serving a browser asset failed');
    return reply
      .status(known.status)
      .header('Cache-Control', 'no-store')
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(known.toBody()));
  });

  const sipDomain = deps.directory.tenant.domain;
  app.get('/', async (request, reply) =>
    sendAsset(request, reply, await consolePage({ sipDomain }), { 'Content-Security-Policy': CONSOLE_CSP }),
  );
  app.get('/console/app.js', async (request, reply) => sendAsset(request, reply, await consoleScript()));
  app.get('/console/console.css', async (request, reply) => sendAsset(request, reply, await consoleStyles()));
  app.get('/webphone.js', async (request, reply) =>
    sendAsset(request, reply, await webPhoneModule(), {
      'X-TypeScript-Types': '/webphone.d.ts',
      'Access-Control-Allow-Origin': '*',
    }),
  );
  app.get('/webphone.d.ts', async (request, reply) =>
    sendAsset(request, reply, await webPhoneDeclarations(), { 'Access-Control-Allow-Origin': '*' }),
  );
};
