import { describe, expect, it } from 'vitest';
import {
  audioDirection,
  isHoldOffer,
  keepPayloadTypes,
  SdpOrigin,
  setAudioDirection,
  silentPartyAnswer,
} from './sdp.js';

const sdp = (...lines: string[]) => Buffer.from(`${lines.join('\r\n')}\r\n`);

const ENGINE_OFFER = sdp(
  'v=0',
  'o=- 1545997027 2 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 30020 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  'a=rtcp:30021',
  'a=ptime:20',
  'm=video 30030 RTP/AVP 96',
  'a=rtpmap:96 VP8/90000',
);

describe('audioDirection / isHoldOffer', () => {
  it('reads the audio stream, then the session, else sendrecv', () => {
    expect(audioDirection(ENGINE_OFFER)).toBe('sendrecv');
    expect(audioDirection(sdp('v=0', 'c=IN IP4 10.0.0.1', 'a=sendonly', 'm=audio 4000 RTP/AVP 0'))).toBe(
      'sendonly',
    );
    expect(audioDirection(sdp('v=0', 'a=sendonly', 'm=audio 4000 RTP/AVP 0', 'a=inactive'))).toBe('inactive');
    expect(audioDirection(sdp('v=0', 'm=audio 4000 RTP/AVP 0'))).toBe('sendrecv');
    // A later stream's direction is not the audio's.
    expect(
      audioDirection(sdp('v=0', 'm=audio 4000 RTP/AVP 0', 'm=video 5000 RTP/AVP 96', 'a=inactive')),
    ).toBe('sendrecv');
  });

  it('treats c=0.0.0.0 as RFC 2543 hold', () => {
    const held = sdp('v=0', 'c=IN IP4 0.0.0.0', 'm=audio 4000 RTP/AVP 0');
    expect(audioDirection(held)).toBe('sendonly');
    expect(isHoldOffer(held)).toBe(true);
    expect(isHoldOffer(sdp('v=0', 'm=audio 4000 RTP/AVP 0', 'a=recvonly'))).toBe(false);
    expect(isHoldOffer(sdp('v=0', 'm=audio 4000 RTP/AVP 0', 'a=inactive'))).toBe(true);
  });
});

describe('silentPartyAnswer', () => {
  it('takes the audio on the discard port, sendrecv, and declines the other streams', () => {
    const answer = silentPartyAnswer(ENGINE_OFFER).toString();
    expect(answer).toMatch(/^m=audio 9 RTP\/AVP 0 8 101$/m);
    expect(answer).toMatch(/^c=IN IP4 127\.0\.0\.1$/m);
    expect(answer).toMatch(/^m=video 0 RTP\/AVP 96$/m);
    expect(answer).not.toMatch(/a=rtcp:|VP8/);
    expect(answer.match(/^a=(sendrecv|sendonly|recvonly|inactive)$/gm)).toEqual(['a=sendrecv']);
    expect(audioDirection(answer)).toBe('sendrecv');
    expect(answer.endsWith('\r\n')).toBe(true);
  });
});

describe('setAudioDirection', () => {
  it('replaces the audio direction and drops a session-level one', () => {
    const body = sdp(
      'v=0',
      'a=sendrecv',
      'm=audio 4000 RTP/AVP 0',
      'a=inactive',
      'm=video 5000 RTP/AVP 96',
      'a=recvonly',
    );
    const out = setAudioDirection(body, 'sendonly').toString();
    expect(audioDirection(out)).toBe('sendonly');
    expect(out).toContain('a=recvonly'); // the video stream keeps its own
    expect(out.match(/a=sendrecv|a=inactive/g)).toBeNull();
  });

  it('adds one when the audio stream had none', () => {
    expect(audioDirection(setAudioDirection(sdp('v=0', 'm=audio 4000 RTP/AVP 0'), 'inactive'))).toBe(
      'inactive',
    );
  });
});

describe('SdpOrigin', () => {
  it('keeps the first origin and bumps the version only when the description changes', () => {
    const origin = new SdpOrigin();
    const first = origin.rewrite(sdp('v=0', 'o=- 111 1 IN IP4 127.0.0.1', 'm=audio 4000 RTP/AVP 0'));
    expect(first.toString()).toContain('o=- 111 1 IN IP4 127.0.0.1');
    const same = origin.rewrite(sdp('v=0', 'o=- 111 1 IN IP4 127.0.0.1', 'm=audio 4000 RTP/AVP 0'));
    expect(same.toString()).toContain('o=- 111 1 IN IP4');
    // Another pairing of the engine: its own origin, new ports → same session, next version.
    const next = origin.rewrite(sdp('v=0', 'o=- 999 1 IN IP4 127.0.0.1', 'm=audio 4002 RTP/AVP 0'));
    expect(next.toString()).toContain('o=- 111 2 IN IP4 127.0.0.1');
    expect(next.toString()).toContain('m=audio 4002');
    const unchanged = origin.rewrite(sdp('v=0', 'o=- 999 5 IN IP4 127.0.0.1', 'm=audio 4002 RTP/AVP 0'));
    expect(unchanged.toString()).toContain('o=- 111 2 IN IP4');
  });

  it('leaves a body without an origin alone', () => {
    const body = Buffer.from('not sdp');
    expect(new SdpOrigin().rewrite(body)).toBe(body);
  });
});

describe('keepPayloadTypes', () => {
  const previous = sdp(
    'v=0',
    'm=audio 5000 UDP/TLS/RTP/SAVPF 0 126',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:126 telephone-event/8000',
    'a=fmtp:126 0-16',
  );

  it('gives a codec back the number the party knows it by', () => {
    const offer = sdp(
      'v=0',
      'm=audio 5002 UDP/TLS/RTP/SAVPF 0 8 110',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:8 PCMA/8000',
      'a=rtpmap:110 telephone-event/8000',
      'a=fmtp:110 0-16',
    );
    const kept = keepPayloadTypes(offer, previous).toString();
    expect(kept).toMatch(/^m=audio 5002 UDP\/TLS\/RTP\/SAVPF 0 8 126$/m);
    expect(kept).toContain('a=rtpmap:126 telephone-event/8000');
    expect(kept).toContain('a=fmtp:126 0-16');
    expect(kept).not.toContain(':110');
  });

  it('moves a number the party uses for another codec to a free one', () => {
    const offer = sdp(
      'v=0',
      'm=audio 5002 RTP/AVP 0 126',
      'a=rtpmap:0 PCMU/8000',
      'a=rtpmap:126 opus/48000/2',
    );
    const kept = keepPayloadTypes(offer, previous).toString();
    expect(kept).toMatch(/^m=audio 5002 RTP\/AVP 0 96$/m);
    expect(kept).toContain('a=rtpmap:96 opus/48000/2');
  });

  it('leaves an offer alone without a previous description or when nothing clashes', () => {
    const offer = sdp('v=0', 'm=audio 5002 RTP/AVP 0 126', 'a=rtpmap:126 telephone-event/8000');
    expect(keepPayloadTypes(offer, undefined)).toBe(offer);
    expect(keepPayloadTypes(offer, previous)).toBe(offer);
  });
});

describe('silentPartyAnswer with a browser offer', () => {
  it("drops the offerer's SSRC and stream identity", () => {
    const answer = silentPartyAnswer(
      sdp(
        'v=0',
        'o=- 1 1 IN IP4 127.0.0.1',
        'a=msid-semantic: WMS stream',
        'm=audio 30020 RTP/AVP 0',
        'a=ssrc:1234 cname:x',
        'a=ssrc-group:FID 1 2',
        'a=msid:stream track',
        'a=mid:0',
      ),
    ).toString();
    expect(answer).not.toMatch(/a=ssrc|a=msid/);
    expect(answer).toContain('a=mid:0');
  });
});
