import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type AuthParams,
  formatAuthParams,
  formatNameAddr,
  formatVia,
  type NameAddr,
  parseAuthParams,
  parseNameAddr,
  parseVia,
  quote,
  type Via,
} from './headers.js';
import { SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { type ParseResult, parseMessage, SipStreamFramer } from './parser.js';
import * as V from './rfc4475.vectors.js';
import { serializeMessage } from './serializer.js';
import { formatUri, parseUri, type SipUri } from './uri.js';

// ---- generators ----

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const TOKEN_CHARS = [...`${ALNUM}-.!%*_+\`'~`];
const token = (maxLength = 10) =>
  fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength });
const lowerToken = (maxLength = 10) => token(maxLength).map((t) => t.toLowerCase());
/** Any Unicode text on one line (CR and LF cannot appear inside a header). */
const lineText = (constraints: { minLength?: number; maxLength?: number } = {}) =>
  fc.string({ unit: 'binary', maxLength: 12, ...constraints }).map((s) => s.replace(/[\r\n]/g, ' '));
/** A header value as the parser returns it: one line, no leading or trailing SP / HTAB. */
const headerValue = lineText({ maxLength: 30 }).map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
const host = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((a) => `[${a}]`),
);
const port = fc.integer({ min: 0, max: 65535 });

const uriParams = fc
  .uniqueArray(
    fc.tuple(
      lineText({ minLength: 1, maxLength: 6 }).map((s) => s.toLowerCase()),
      fc.option(lineText({ minLength: 1 }), { nil: null }),
    ),
    {
      selector: ([name]) => name,
      maxLength: 3,
    },
  )
  .map((entries) => new Map<string, string | null>(entries));

function sipUri(withHeaders: boolean): fc.Arbitrary<SipUri> {
  return fc
    .record({
      scheme: fc.constantFrom('sip', 'sips'),
      user: fc.option(lineText({ minLength: 1 }), { nil: undefined }),
      password: fc.option(lineText({ maxLength: 6 }), { nil: undefined }),
      host,
      port: fc.option(port, { nil: undefined }),
      params: uriParams,
      headers: withHeaders
        ? fc
            .uniqueArray(fc.tuple(lineText({ minLength: 1, maxLength: 6 }), lineText()), {
              selector: ([name]) => name,
              maxLength: 2,
            })
            .map((entries) => new Map(entries))
        : fc.constant(new Map<string, string>()),
    })
    .map(({ user, password, port: p, ...rest }) => {
      const uri: SipUri = { ...rest };
      if (user !== undefined) {
        uri.user = user;
        if (password !== undefined) uri.password = password;
      }
      if (p !== undefined) uri.port = p;
      return uri;
    });
}

const telUri: fc.Arbitrary<SipUri> = fc
  .record({
    host: fc.string({ unit: fc.constantFrom(...'0123456789-.()+*#'), minLength: 1, maxLength: 14 }),
    params: uriParams,
  })
  .map(({ host: number, params }) => ({ scheme: 'tel', host: number, params, headers: new Map() }));

const opaqueUri: fc.Arbitrary<SipUri> = fc
  .record({
    scheme: fc.stringMatching(/^[a-z][a-z0-9+.-]{0,6}$/).filter((s) => !['sip', 'sips', 'tel'].includes(s)),
    opaque: fc.string({
      unit: fc.constantFrom(...`${ALNUM}-_.!~*'();/?:@&=+$,`),
      minLength: 1,
      maxLength: 20,
    }),
  })
  .map(({ scheme, opaque }) => ({ scheme, host: '', opaque, params: new Map(), headers: new Map() }));

const anyUri = fc.oneof(
  { arbitrary: sipUri(true), weight: 4 },
  { arbitrary: telUri, weight: 1 },
  { arbitrary: opaqueUri, weight: 1 },
);

const headerParams = fc
  .uniqueArray(fc.tuple(lowerToken(), fc.option(fc.oneof(token(), lineText().map(quote)), { nil: null })), {
    selector: ([name]) => name,
    maxLength: 3,
  })
  .map((entries) => new Map<string, string | null>(entries));

const nameAddr: fc.Arbitrary<NameAddr> = fc
  .record({ displayName: fc.option(lineText(), { nil: undefined }), uri: anyUri, params: headerParams })
  .map(({ displayName, uri, params }) => {
    const value: NameAddr = { uri, uriText: formatUri(uri), params };
    if (displayName !== undefined) value.displayName = displayName;
    return value;
  });

const via = fc
  .record({
    // Transport tokens are case-insensitive; parseVia normalizes them to uppercase.
    transport: token(6).map((t) => t.toUpperCase()),
    host,
    port: fc.option(port, { nil: undefined }),
    params: fc
      .uniqueArray(
        fc.tuple(
          lowerToken().filter((n) => !['branch', 'received', 'rport'].includes(n)),
          fc.option(token(), { nil: null }),
        ),
        {
          selector: ([name]) => name,
          maxLength: 3,
        },
      )
      .map((entries) => new Map<string, string | null>(entries)),
    branch: fc.option(
      token(20).map((t) => `z9hG4bK${t}`),
      { nil: undefined },
    ),
    received: fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: undefined }),
    rport: fc.option(fc.option(port, { nil: null }), { nil: undefined }),
  })
  .map(({ port: p, branch, received, rport, ...rest }) => {
    const value: Via = { protocol: 'SIP/2.0', ...rest };
    if (p !== undefined) value.port = p;
    if (branch !== undefined) value.branch = branch;
    if (received !== undefined) value.received = received;
    if (rport !== undefined) value.rport = rport;
    return value;
  });

const callId = fc.string({
  unit: fc.constantFrom(...`${ALNUM}-.!%*_+\`'~()<>:\\"/[]?{}@`),
  minLength: 1,
  maxLength: 30,
});
const extensionName = token(12).map((t) => `X-${t}`);

interface Parts {
  vias: string[];
  from: string;
  to: string;
  callId: string;
  cseq: number;
  maxForwards: number | undefined;
  contacts: string[];
  extensions: [string, string][];
  body: Buffer;
}

const parts: fc.Arbitrary<Parts> = fc.record({
  vias: fc.array(via.map(formatVia), { minLength: 1, maxLength: 3 }),
  from: nameAddr.map(formatNameAddr),
  to: nameAddr.map(formatNameAddr),
  callId,
  cseq: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  maxForwards: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
  contacts: fc.array(nameAddr.map(formatNameAddr), { maxLength: 2 }),
  extensions: fc.array(fc.tuple(extensionName, headerValue), { maxLength: 5 }),
  body: fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
});

/** The header lines of `p` in a random order (order is kept by the parser, so any order must survive). */
function shuffledHeaders(p: Parts, cseqMethod: string): fc.Arbitrary<SipHeaders> {
  const fields: [string, string][] = [
    ...p.vias.map((v): [string, string] => ['Via', v]),
    ['From', p.from],
    ['To', p.to],
    ['Call-ID', p.callId],
    ['CSeq', `${p.cseq} ${cseqMethod}`],
    ...p.contacts.map((c): [string, string] => ['Contact', c]),
    ...p.extensions,
    ['Content-Length', String(p.body.length)],
  ];
  if (p.maxForwards !== undefined) fields.push(['Max-Forwards', String(p.maxForwards)]);
  return fc
    .shuffledSubarray(fields, { minLength: fields.length, maxLength: fields.length })
    .map((ordered) => new SipHeaders(ordered));
}

const request: fc.Arbitrary<SipRequest> = fc
  .record({ method: token(), uri: fc.oneof(sipUri(false), telUri).map(formatUri), parts })
  .chain(({ method, uri, parts: p }) =>
    shuffledHeaders(p, method).map(
      (headers): SipRequest => ({ kind: 'request', method, uri, version: 'SIP/2.0', headers, body: p.body }),
    ),
  );

const response: fc.Arbitrary<SipResponse> = fc
  .record({
    status: fc.integer({ min: 100, max: 699 }),
    reason: lineText({ maxLength: 20 }),
    method: token(),
    parts,
  })
  .chain(({ status, reason, method, parts: p }) =>
    shuffledHeaders(p, method).map(
      (headers): SipResponse => ({
        kind: 'response',
        status,
        reason,
        version: 'SIP/2.0',
        headers,
        body: p.body,
      }),
    ),
  );

const message: fc.Arbitrary<SipMessage> = fc.oneof(request, response);

// ---- helpers ----

const ALL_VECTORS = Object.values(V).filter(
  (v): v is V.TortureVector => typeof v === 'object' && v !== null && 'bytes' in v,
);

/** A message without its Content-Length lines (the serializer rewrites them). */
function withoutContentLength(m: SipMessage): SipMessage {
  const headers = new SipHeaders(
    [...m.headers].filter((f) => f.name !== 'Content-Length').map((f) => [f.name, f.value] as const),
  );
  return { ...m, headers };
}

function mustNotThrow(data: Buffer): ParseResult {
  const result = parseMessage(data);
  expect(typeof result.ok).toBe('boolean');
  return result;
}

type Mutation =
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'truncate'; at: number };

const INTERESTING = [...'\r\n \t:;,"\\<>@%=/[]?']
  .map((c) => c.charCodeAt(0))
  .concat([0x00, 0x7f, 0xff, 0xc3, 0xe2]);
const interestingByte = fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 }));
const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fraction, byte: interestingByte }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fraction,
    bytes: fc.array(interestingByte, { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fraction, length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: fraction,
    length: fc.integer({ min: 1, max: 80 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fraction }),
);

function mutate(data: Buffer, mutations: Mutation[]): Buffer {
  let bytes = [...data];
  for (const m of mutations) {
    const at = Math.floor(m.at * (bytes.length + 1));
    switch (m.kind) {
      case 'set':
        if (at < bytes.length) bytes[at] = m.byte;
        break;
      case 'insert':
        bytes.splice(at, 0, ...m.bytes);
        break;
      case 'delete':
        bytes.splice(at, m.length);
        break;
      case 'duplicate':
        bytes.splice(at, 0, ...bytes.slice(at, at + m.length));
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
    }
  }
  return Buffer.from(bytes);
}

// ---- properties ----

describe('round trips', () => {
  it('parse(serialize(m)) deep-equals m for generated requests and responses', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(parseMessage(serializeMessage(m))).toEqual({ ok: true, message: m });
      }),
      { numRuns: 300 },
    );
  });

  it('parseUri(formatUri(u)) deep-equals u', () => {
    fc.assert(
      fc.property(anyUri, (uri) => {
        expect(parseUri(formatUri(uri))).toEqual(uri);
      }),
      { numRuns: 500 },
    );
  });

  it('parseNameAddr(formatNameAddr(n)) deep-equals n', () => {
    fc.assert(
      fc.property(nameAddr, (value) => {
        expect(parseNameAddr(formatNameAddr(value))).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });

  it('parseVia(formatVia(v)) keeps every field', () => {
    fc.assert(
      fc.property(via, (value) => {
        const parsed = parseVia(formatVia(value));
        expect(parsed).toBeDefined();
        expect(parsed!.transport).toBe(value.transport);
        expect(parsed!.host).toBe(value.host);
        expect(parsed!.port).toBe(value.port);
        expect(parsed!.branch).toBe(value.branch);
        expect(parsed!.received).toBe(value.received);
        expect(parsed!.rport).toBe(value.rport);
        for (const [name, paramValue] of value.params) expect(parsed!.params.get(name)).toBe(paramValue);
        expect(formatVia(parsed!)).toBe(formatVia(value));
      }),
      { numRuns: 500 },
    );
  });

  it('parseAuthParams(formatAuthParams(a)) deep-equals a', () => {
    const auth: fc.Arbitrary<AuthParams> = fc.record({
      scheme: token(),
      params: fc
        .uniqueArray(fc.tuple(lowerToken(), lineText()), { selector: ([name]) => name, maxLength: 6 })
        .map((entries) => new Map(entries)),
    });
    fc.assert(
      fc.property(auth, (value) => {
        expect(parseAuthParams(formatAuthParams(value))).toEqual(value);
      }),
      { numRuns: 500 },
    );
  });
});

describe('robustness', () => {
  it('parseMessage never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), (bytes) => {
        mustNotThrow(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('parseMessage never throws on SIP-like text', () => {
    const alphabet = [...'SIP/2.0 INVITE sip:@;=<>"\\,\r\n\t:[]?%0123456789abcxyzVvFfTtLlCcIi-'];
    const starts = [
      '',
      'INVITE sip:a@b SIP/2.0\r\n',
      'SIP/2.0 200 OK\r\n',
      'OPTIONS sip:a@[::1] SIP/2.0\r\nVia: ',
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...starts),
        fc.string({ unit: fc.constantFrom(...alphabet), maxLength: 400 }),
        (start, text) => {
          mustNotThrow(Buffer.from(start + text, 'utf8'));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('mutated RFC 4475 messages never throw, and whatever is accepted re-serializes to the same message', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_VECTORS),
        fc.array(mutation, { minLength: 1, maxLength: 5 }),
        (vector, mutations) => {
          const result = mustNotThrow(mutate(vector.bytes, mutations));
          if (!result.ok) return;
          const again = parseMessage(serializeMessage(result.message));
          expect(again.ok).toBe(true);
          if (again.ok)
            expect(withoutContentLength(again.message)).toEqual(withoutContentLength(result.message));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('the stream framer never throws on arbitrary chunks and keeps its buffer bounded', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 20 }), (chunks) => {
        const framer = new SipStreamFramer({ maxMessageBytes: 4096, maxHeaderBytes: 1024 });
        for (const chunk of chunks) {
          const out = framer.push(Buffer.from(chunk));
          expect(Array.isArray(out)).toBe(true);
          expect(framer.pendingBytes).toBeLessThanOrEqual(4096 + 400);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('the stream framer returns exactly the messages sent, however the stream is cut', () => {
    const stream = fc.array(fc.tuple(message, fc.constantFrom('', '\r\n', '\r\n\r\n')), {
      minLength: 1,
      maxLength: 4,
    });
    fc.assert(
      fc.property(stream, fc.array(fraction, { maxLength: 8 }), (items, cuts) => {
        const messages = items.map(([m]) => serializeMessage(m));
        const data = Buffer.concat(items.flatMap(([, gap], k) => [Buffer.from(gap), messages[k]!]));
        const offsets = [...new Set(cuts.map((c) => Math.floor(c * data.length)))].sort((a, b) => a - b);
        const framer = new SipStreamFramer();
        const out: Buffer[] = [];
        let previous = 0;
        for (const offset of [...offsets, data.length]) {
          out.push(...framer.push(data.subarray(previous, offset)));
          previous = offset;
        }
        expect(framer.error).toBeUndefined();
        expect(out.map((b) => b.toString('latin1'))).toEqual(messages.map((b) => b.toString('latin1')));
      }),
      { numRuns: 300 },
    );
  });

  it('the stream framer never throws on mutated streams of valid messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...V.VALID_VECTORS), { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { maxLength: 4 }),
        fc.integer({ min: 1, max: 700 }),
        (vectors, mutations, chunkSize) => {
          const data = mutate(Buffer.concat(vectors.map((v) => v.bytes)), mutations);
          const framer = new SipStreamFramer();
          for (let i = 0; i < data.length; i += chunkSize) {
            for (const framed of framer.push(data.subarray(i, i + chunkSize))) mustNotThrow(framed);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
