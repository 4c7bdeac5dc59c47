/**
 * The little SDP call control reads or writes itself (everything else about SDP is the media
 * engine's): the direction of a party's offer (is it holding?), the answer of the queue's silent
 * party, and the `o=` line of what one leg is sent, kept the same session across engine rewrites.
 */

export type SdpDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const DIRECTIONS: ReadonlySet<string> = new Set(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

function lines(sdp: Buffer | string): string[] {
  return (typeof sdp === 'string' ? sdp : sdp.toString('utf8')).split(/\r?\n/).filter((l) => l !== '');
}

function text(all: readonly string[]): Buffer {
  return Buffer.from(`${all.join('\r\n')}\r\n`, 'utf8');
}

/**
 * Where the parts of an SDP are: the session part ends at the first `m=` line (`sessionEnd`), and
 * the first audio stream runs from its `m=audio` line (`audioStart`) to the next `m=` line
 * (`audioEnd`); both audio indexes are -1 without an audio stream.
 */
function sections(all: readonly string[]): { sessionEnd: number; audioStart: number; audioEnd: number } {
  const firstMedia = all.findIndex((line) => line.startsWith('m='));
  const sessionEnd = firstMedia < 0 ? all.length : firstMedia;
  const audioStart = all.findIndex((line) => line.startsWith('m=audio'));
  if (audioStart < 0) return { sessionEnd, audioStart: -1, audioEnd: -1 };
  const next = all.findIndex((line, i) => i > audioStart && line.startsWith('m='));
  return { sessionEnd, audioStart, audioEnd: next < 0 ? all.length : next };
}

/** The direction attribute among some lines (the last one wins), if any. */
function directionIn(part: readonly string[]): SdpDirection | undefined {
  let found: SdpDirection | undefined;
  for (const line of part) {
    const value = line.startsWith('a=') ? line.slice(2).trim() : '';
    if (DIRECTIONS.has(value)) found = value as SdpDirection;
  }
  return found;
}

/**
 * The direction of the first audio stream as its sender means it (media-level attribute, else
 * session-level, else sendrecv). A connection address of 0.0.0.0 is RFC 2543 hold: `sendonly`
 * when the stream still says sendrecv.
 */
export function audioDirection(sdp: Buffer | string): SdpDirection {
  const all = lines(sdp);
  const { sessionEnd, audioStart, audioEnd } = sections(all);
  const session = all.slice(0, sessionEnd);
  const audio = audioStart < 0 ? [] : all.slice(audioStart + 1, audioEnd);
  const holdAddress = [...session, ...audio].some((line) => /^c=IN IP4 0\.0\.0\.0\b/.test(line));
  const direction = directionIn(audio) ?? directionIn(session) ?? 'sendrecv';
  return holdAddress && direction === 'sendrecv' ? 'sendonly' : direction;
}

/** Whether an offer puts the call on hold (its sender will not receive: sendonly or inactive). */
export function isHoldOffer(sdp: Buffer | string): boolean {
  const direction = audioDirection(sdp);
  return direction === 'sendonly' || direction === 'inactive';
}

const SILENT_PARTY_DROPS =
  /^(rtcp|rtcp-mux|ice-|candidate|fingerprint|setup|crypto|ssrc|ssrc-group|msid|msid-semantic)\b/;

/**
 * The answer of the queue's silent party to the engine's offer: it takes the audio stream on the
 * discard port of the loopback address (the engine never sends there: call control blocks the
 * caller's media while it waits) and declines every other stream. `sendrecv`, so the caller's
 * device sees an ordinary two-way call and keeps sending; the caller's media flows once the call
 * is bridged to an agent.
 */
export function silentPartyAnswer(offer: Buffer | string): Buffer {
  const out: string[] = [];
  let section: 'session' | 'audio' | 'other' = 'session';
  let audioTaken = false;
  for (const line of lines(offer)) {
    if (line.startsWith('m=')) {
      const [media, , proto, ...formats] = line.slice(2).split(/\s+/);
      if (media === 'audio' && !audioTaken) {
        audioTaken = true;
        section = 'audio';
        out.push(`m=audio 9 ${proto} ${formats.join(' ')}`);
        out.push('c=IN IP4 127.0.0.1');
      } else {
        section = 'other';
        out.push(`m=${media} 0 ${proto} ${formats.join(' ')}`);
      }
      continue;
    }
    if (line.startsWith('c=')) {
      if (section === 'session') out.push('c=IN IP4 127.0.0.1');
      continue;
    }
    if (line.startsWith('o=')) {
      out.push('o=- 1 1 IN IP4 127.0.0.1');
      continue;
    }
    if (section === 'other') continue;
    if (line.startsWith('a=')) {
      const attribute = line.slice(2);
      // Not the silent party's: transport attributes, and the offerer's own stream identity
      // (a browser would expect the engine's audio on its own SSRC and play nothing).
      if (DIRECTIONS.has(attribute) || SILENT_PARTY_DROPS.test(attribute)) continue;
    }
    out.push(line);
  }
  // sendrecv on the audio stream (appended last: attributes may come in any order).
  const audioIndex = out.findIndex((l) => l.startsWith('m=audio'));
  if (audioIndex >= 0) {
    let end = out.findIndex((l, i) => i > audioIndex && l.startsWith('m='));
    if (end < 0) end = out.length;
    out.splice(end, 0, 'a=sendrecv');
  }
  return text(out);
}

/**
 * RFC 3264 §8: every SDP one party is sent in a session carries the same origin (username and
 * session id) and a version that grows when the description changes. The engine words each of
 * its answers and offers with an origin of its own (one per pairing), so the SDP that goes to a
 * party whose pairing changes (a caller answered by a queue, then bridged to an agent) passes
 * through this.
 */
export class SdpOrigin {
  private origin?: { username: string; sessionId: string; rest: string };
  private version = 0;
  private lastBody?: string;

  /** The body with this session's origin; the version is bumped when the rest changed. */
  rewrite(sdp: Buffer): Buffer {
    const text = sdp.toString('utf8');
    const match = /^o=(\S+) (\S+) (\S+) (.*)$/m.exec(text);
    if (!match) return sdp;
    const [line, username, sessionId, , rest] = match;
    const withoutOrigin = text.replace(line!, '');
    if (!this.origin) {
      this.origin = { username: username!, sessionId: sessionId!, rest: rest! };
      this.version = Number.parseInt(match[3]!, 10) || 1;
      this.lastBody = withoutOrigin;
      return sdp;
    }
    if (withoutOrigin !== this.lastBody) {
      this.version++;
      this.lastBody = withoutOrigin;
    }
    const { username: u, sessionId: s, rest: r } = this.origin;
    return Buffer.from(text.replace(line!, `o=${u} ${s} ${this.version} ${r}`), 'utf8');
  }
}

/** The body with the audio stream's direction set (media-level; a session-level one is removed). */
export function setAudioDirection(sdp: Buffer, direction: SdpDirection): Buffer {
  const all = lines(sdp);
  const { sessionEnd, audioStart, audioEnd } = sections(all);
  const isDirection = (line: string) => line.startsWith('a=') && DIRECTIONS.has(line.slice(2).trim());
  const out = all.filter(
    (line, index) =>
      !isDirection(line) || (index >= sessionEnd && (index <= audioStart || index >= audioEnd)),
  );
  if (audioStart >= 0) {
    const { audioEnd: end } = sections(out);
    out.splice(end, 0, `a=${direction}`);
  }
  return text(out);
}

/** `a=rtpmap:<pt> <encoding>/<rate>[/channels]` of an SDP's first audio stream: pt → ENCODING/rate. */
function audioRtpmaps(sdp: Buffer | string): Map<number, string> {
  const all = lines(sdp);
  const { audioStart, audioEnd } = sections(all);
  const maps = new Map<number, string>();
  if (audioStart < 0) return maps;
  for (const line of all.slice(audioStart + 1, audioEnd)) {
    const match = /^a=rtpmap:(\d+)\s+(\S+)/.exec(line);
    if (match) maps.set(Number(match[1]), match[2]!.toUpperCase());
  }
  return maps;
}

/**
 * A re-offer to a party with the dynamic payload type numbers it already negotiated in this
 * session: a codec the party knows by another number (telephone-event/8000 as 126, say) gets that
 * number back, and a number the party uses for another codec is moved to a free one. Browsers
 * refuse a re-offer that gives a number they use to a different codec (RFC 3264 §8.3.2), and the
 * engine numbers each offer afresh. Static types (< 96) are left as they are.
 */
export function keepPayloadTypes(offer: Buffer, previous: Buffer | undefined): Buffer {
  if (!previous) return offer;
  const known = audioRtpmaps(previous);
  const offered = audioRtpmaps(offer);
  if (known.size === 0 || offered.size === 0) return offer;
  const numberOf = new Map<string, number>();
  for (const [pt, codec] of known) if (!numberOf.has(codec)) numberOf.set(codec, pt);
  const taken = new Set<number>([...known.keys(), ...offered.keys()]);
  const renumber = new Map<number, number>();
  for (const [pt, codec] of offered) {
    if (pt < 96) continue;
    const wanted = numberOf.get(codec);
    if (wanted !== undefined) {
      if (wanted !== pt) renumber.set(pt, wanted);
    } else if (known.has(pt) && known.get(pt) !== codec) {
      let free = 96;
      while (free <= 127 && taken.has(free)) free++;
      if (free <= 127) {
        renumber.set(pt, free);
        taken.add(free);
      }
    }
  }
  if (renumber.size === 0) return offer;
  const map = (pt: string): string => String(renumber.get(Number(pt)) ?? pt);
  const all = lines(offer);
  const { audioStart, audioEnd } = sections(all);
  const out = all.map((line, index) => {
    if (index === audioStart) {
      const [head, port, proto, ...formats] = line.split(/\s+/);
      return [head, port, proto, ...formats.map(map)].join(' ');
    }
    if (index < audioStart || index >= audioEnd) return line;
    return line.replace(
      /^a=(rtpmap|fmtp|rtcp-fb):(\d+)/,
      (_, attribute: string, pt: string) => `a=${attribute}:${map(pt)}`,
    );
  });
  return text(out);
}
