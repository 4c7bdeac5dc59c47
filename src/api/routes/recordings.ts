/**
 * Call recordings (DESIGN.md §9), as EnreachAPI serves them:
 *
 * - `GET /calls/recordings/{RecordingId}` (HTTP Basic) → `{"Id", "CallId", "URL", "Duration",
 *   "TimeStamp", "ContentType"}`, `URL` relative to apiEndpoint with a download token in it;
 * - `GET /calls/recordings/{RecordingId}/file` → the MP3: with `?token=` and no credentials (what the
 *   Python client does with `URL`), or with HTTP Basic and no token.
 *
 * Who may see a recording: the admin (every grant), the users who were connected while it
 * recorded (its parties), and for a queue's recording the holders of that queue's ServiceCalls,
 * for a user's recording the holders of that user's DirectCalls. Anyone else gets the 404 of an
 * unknown id. A token is bound to one recording and expires; a wrong, altered, foreign or expired
 * token is a 403 (the token was given, so the request is authenticated — badly — not anonymous).
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { User } from '../../config/types.js';
import type { RecordingRow } from '../../recordings/types.js';
import { formatApiTime } from '../../records/kinds/wire-time.js';
import { callerOf, type HttpAuth } from '../auth-plugin.js';
import { operation } from '../documentation.js';
import { forbidden, notFound, tooManyRequests } from '../errors.js';
import { inScope, scopeOf } from '../filters.js';
import { COMPONENTS, noParameters, recordingFileQuery, recordingIdParams, type Wire } from '../schemas.js';
import type { RecordingApiDeps } from '../types.js';
import type { RouteContext } from './context.js';

export interface RecordingRouteOptions extends RouteContext {
  recordings: RecordingApiDeps;
  /** The API's authentication and budgets: the file route applies them itself (see below). */
  auth: HttpAuth;
}

const TAG = 'Call information';

/** May the caller see this recording (DESIGN.md §9, §4)? */
export function maySeeRecording(caller: User, row: RecordingRow): boolean {
  const callerId = caller.userId.toLowerCase();
  if (row.partyUserIds.some((userId) => userId.toLowerCase() === callerId)) return true;
  // DESIGN.md §9: whoever may see a record that lists it. The call-level records show with the
  // owner's grant; the parties' own events with DirectCalls (a user's direct calls) or AgentCalls
  // (an agent's service calls) of that party.
  const ownerVisible =
    row.ownerKind === 'queue'
      ? inScope(scopeOf(caller, 'ServiceCalls'), row.ownerId)
      : inScope(scopeOf(caller, 'DirectCalls'), row.ownerId);
  if (ownerVisible) return true;
  const directCalls = scopeOf(caller, 'DirectCalls');
  const agentCalls = scopeOf(caller, 'AgentCalls');
  return row.partyUserIds.some(
    (userId) => inScope(directCalls, userId) || (row.ownerKind === 'queue' && inScope(agentCalls, userId)),
  );
}

/** The path a token-bearing URL points at, relative to apiEndpoint. */
export function recordingFileUrl(recordingId: string, token: string): string {
  return `calls/recordings/${recordingId}/file?token=${encodeURIComponent(token)}`;
}

/** The first of the query's keys that is `token` in any case (the API's names are case-insensitive). */
function rawToken(request: FastifyRequest): unknown {
  const query = request.query as Record<string, unknown> | undefined;
  if (query === undefined || query === null) return undefined;
  const key = Object.keys(query).find((name) => name.toLowerCase() === 'token');
  return key === undefined ? undefined : query[key];
}

/** One `bytes=` range of a file of `size` bytes, or undefined for "send it all" (RFC 9110 lets us ignore others). */
function byteRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined || size === 0) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return undefined;
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  }
  if (start > end || start >= size) return undefined;
  return { start, end };
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: COMPONENTS.Error } },
});

export const recordingRoutes: FastifyPluginAsyncZod<RecordingRouteOptions> = async (app, options) => {
  const { recordings, auth } = options;
  const { files } = recordings;
  const now = options.now ?? Date.now;

  /** A recording the caller may fetch, with its file's size; 404s say why not, when they may. */
  async function available(
    row: RecordingRow | undefined,
    recordingId: string,
  ): Promise<{ row: RecordingRow; size: number }> {
    if (row === undefined) throw notFound(`No recording ${recordingId}`);
    if (row.state === 'failed') {
      throw notFound(`Recording ${recordingId} is not available: its audio could not be rendered`);
    }
    // Missing: deleted by hand, or a data directory restored without its recordings.
    const size = await files.size(row.fileName);
    if (size !== undefined) return { row, size };
    throw notFound(`Recording ${recordingId} is not available: its audio file is missing`);
  }

  app.get(
    '/calls/recordings/:RecordingId',
    operation({
      operationId: 'getRecording',
      tag: TAG,
      summary: 'A call recording: where to download it',
      description:
        'Metadata of one recording, with a URL (relative to apiEndpoint) that downloads the MP3 without ' +
        'credentials for 4 hours. Shown to the parties of the recorded call (the users connected while it ' +
        "recorded), to holders of the owning queue's ServiceCalls or the owning user's DirectCalls, and to " +
        'admins; a 404 for an unknown id and for a recording the caller may not see alike, and for a ' +
        'recording whose audio could not be rendered. A call appears in RecordingIds as soon as recording ' +
        'starts; the recording itself is available shortly after the call ends.',
      auth: 'basic',
      query: noParameters,
      params: recordingIdParams,
      response: { schema: 'Recording', description: 'The recording.' },
      errors: [400, 401, 404, 429],
    }),
    async (request): Promise<Wire<'Recording'>> => {
      const { RecordingId: recordingId } = request.params;
      const row = await recordings.store.getRecording(recordingId);
      if (row === undefined || !maySeeRecording(callerOf(request), row)) {
        throw notFound(`No recording ${recordingId}`);
      }
      await available(row, recordingId);
      return {
        Id: row.recordingId,
        CallId: row.callId,
        URL: recordingFileUrl(row.recordingId, recordings.tokens.sign(row.recordingId, now())),
        Duration: Math.max(0, Math.round(row.durationMs / 1000)),
        TimeStamp: formatApiTime(Date.parse(row.startedAt)),
        ContentType: row.contentType,
      };
    },
  );

  app.get(
    '/calls/recordings/:RecordingId/file',
    {
      schema: {
        operationId: 'getRecordingFile',
        tags: [TAG],
        summary: 'The audio of a call recording (MP3)',
        description:
          'With ?token= from the URL of GET /calls/recordings/{RecordingId}: no Authorization needed; the token ' +
          'is bound to that recording and valid for 4 hours. Without a token: HTTP Basic and the same ' +
          'permission as the metadata. Single byte ranges (Range: bytes=...) are served as 206.',
        // Either the token or HTTP Basic.
        security: [{ basicAuth: [] }, {}],
        querystring: recordingFileQuery,
        params: recordingIdParams,
        response: {
          200: {
            description: 'The MP3, as an attachment named <RecordingId>.mp3.',
            content: { 'audio/mpeg': { schema: z.string().meta({ format: 'binary' }) } },
          },
          206: {
            description: 'The requested byte range of the MP3.',
            content: { 'audio/mpeg': { schema: z.string().meta({ format: 'binary' }) } },
          },
          400: errorResponse('Bad request: a malformed RecordingId or an unknown parameter.'),
          401: errorResponse('No token, and no, malformed or wrong credentials.'),
          403: errorResponse('The token is malformed, altered, for another recording, or expired.'),
          404: errorResponse(
            'Unknown id, one the caller may not see, a recording whose audio could not be rendered, or whose file is missing.',
          ),
          429: errorResponse('Throttled; retry after the number of seconds in Retry-After.'),
        },
      },
      // Not `auth`: the auth plugin would either demand Basic or skip it; this route decides per
      // request (token or Basic) and spends the same budgets the plugin does, by the same keys.
      config: { serializerHeader: true },
      preValidation: async (request) => {
        if (rawToken(request) === undefined) {
          request.caller = await auth.authenticator.authenticate(request.headers.authorization);
          const taken = auth.budgets.perUser.take(`user:${request.caller.userId}`);
          if (!taken.ok) throw tooManyRequests('Too many requests; slow down', taken.retryAfterSeconds);
        } else {
          const taken = auth.budgets.perAddress.take(`ip:${request.ip}`);
          if (!taken.ok) {
            throw tooManyRequests('Too many requests from this address; slow down', taken.retryAfterSeconds);
          }
        }
      },
    },
    async (request, reply) => {
      const { RecordingId: recordingId } = request.params;
      const { token } = request.query;
      if (token !== undefined) {
        // The token is checked before anything is looked up: it tells its holder nothing else.
        const check = recordings.tokens.verify(recordingId, token, now());
        if (check === 'expired') {
          throw forbidden(
            'token',
            `The token has expired; GET /calls/recordings/${recordingId} returns a URL with a fresh one`,
          );
        }
        if (check === 'invalid') throw forbidden('token', 'The token is not valid for this recording');
      }
      const stored = await recordings.store.getRecording(recordingId);
      if (token === undefined && (stored === undefined || !maySeeRecording(callerOf(request), stored))) {
        throw notFound(`No recording ${recordingId}`);
      }
      const { row, size } = await available(stored, recordingId);
      const range = byteRange(request.headers.range, size);
      reply
        .header('Content-Type', row.contentType)
        .header('Content-Disposition', `attachment; filename="${row.recordingId}.mp3"`)
        .header('Accept-Ranges', 'bytes');
      if (range === undefined) {
        reply.header('Content-Length', String(size));
        return reply.status(200).send(files.read(row.fileName));
      }
      reply
        .header('Content-Range', `bytes ${range.start}-${range.end}/${size}`)
        .header('Content-Length', String(range.end - range.start + 1));
      return reply.status(206).send(files.read(row.fileName, range));
    },
  );
};
