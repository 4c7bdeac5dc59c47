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

/**
 * The direction of the first audio stream as its sender means it (media-level attribute, else
 * session-level, else sendrecv). A connection address of 0.0.0.0 is RFC 2543 hold: `sendonly`
 * when the stream still says sendrecv.
 */
export function audioDirection(sdp: Buffer | string): SdpDirection {
  let session: SdpDirection | undefined;
  let media: SdpDirection | undefined;
  let holdAddress = false;
  let inAudio = false;
  let seenAudio = false;
  for (const line of lines(sdp)) {
    if (line.startsWith('m=')) {
      if (seenAudio) break;
      inAudio = line.startsWith('m=audio');
      seenAudio ||= inAudio;
      continue;
    }
    const value = line.startsWith('a=') ? line.slice(2).trim() : undefined;
    const isDirection = value !== undefined && DIRECTIONS.has(value);
    const isHoldAddress = /^c=IN IP4 0\.0\.0\.0\b/.test(line);
    if (!seenAudio) {
      if (isDirection) session = value as SdpDirection;
      if (isHoldAddress) holdAddress = true;
    } else if (inAudio) {
      if (isDirection) media = value as SdpDirection;
      if (isHoldAddress) holdAddress = true;
    }
  }
  const direction = media ?? session ?? 'sendrecv';
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
  return Buffer.from(`${out.join('\r\n')}\r\n`, 'utf8');
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
  const out: string[] = [];
  let seenAudio = false;
  let inAudio = false;
  let placed = false;
  for (const line of lines(sdp)) {
    if (line.startsWith('m=')) {
      if (inAudio && !placed) {
        out.push(`a=${direction}`);
        placed = true;
      }
      inAudio = line.startsWith('m=audio') && !seenAudio;
      seenAudio ||= inAudio;
      out.push(line);
      continue;
    }
    const value = line.startsWith('a=') ? line.slice(2).trim() : undefined;
    if (value !== undefined && DIRECTIONS.has(value) && (!seenAudio || inAudio)) continue;
    out.push(line);
  }
  if (inAudio && !placed) out.push(`a=${direction}`);
  return Buffer.from(`${out.join('\r\n')}\r\n`, 'utf8');
}

/** `a=rtpmap:<pt> <encoding>/<rate>[/channels]` of an SDP's first audio stream: pt → ENCODING/rate. */
function audioRtpmaps(sdp: Buffer | string): Map<number, string> {
  const maps = new Map<number, string>();
  let inAudio = false;
  let seenAudio = false;
  for (const line of lines(sdp)) {
    if (line.startsWith('m=')) {
      if (seenAudio) break;
      inAudio = line.startsWith('m=audio');
      seenAudio ||= inAudio;
      continue;
    }
    if (!inAudio) continue;
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
  let inAudio = false;
  let seenAudio = false;
  const out = lines(offer).map((line) => {
    if (line.startsWith('m=')) {
      inAudio = line.startsWith('m=audio') && !seenAudio;
      seenAudio ||= inAudio;
      if (!inAudio) return line;
      const [head, port, proto, ...formats] = line.split(/\s+/);
      return [head, port, proto, ...formats.map(map)].join(' ');
    }
    if (!inAudio) return line;
    return line.replace(
      /^a=(rtpmap|fmtp|rtcp-fb):(\d+)/,
      (_, attribute: string, pt: string) => `a=${attribute}:${map(pt)}`,
    );
  });
  return Buffer.from(`${out.join('\r\n')}\r\n`, 'utf8');
}
