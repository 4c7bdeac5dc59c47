/**
 * The media engine seam (DESIGN.md §9): call control anchors every call's media in an engine
 * (rtpengine) by passing each SDP offer and answer through it, and tells it when a call ends.
 * The engine rewrites the SDP so that each party sends its media to the engine, never to the other
 * party, and bridges the two sides: WebRTC (ICE, DTLS-SRTP, rtcp-mux, Opus) on browser legs and
 * plain RTP (RTP/AVP, G.711) on SIP phones and trunks.
 *
 * Parties are identified within a call by tags: Switchboard uses CallLegIds as rtpengine's
 * from-tag / to-tag, and the server CallId as rtpengine's call-id.
 */

/** What the party that will receive an SDP speaks. */
export type MediaEndpointKind = 'webrtc' | 'rtp';

export interface MediaOffer {
  /** The server CallId (rtpengine call-id). */
  callId: string;
  /** The CallLegId of the party that made the offer. */
  fromTag: string;
  /**
   * A re-offer inside an established pairing names the other party (rtpengine `to-tag`), e.g. the
   * agent re-offering toward the caller when a queue call is bridged.
   */
  toTag?: string;
  /**
   * Keeps several outgoing branches of one offer apart (forking to a user's devices: one offer per
   * device, each made for its kind; rtpengine `via-branch`). The answer names the branch that won.
   */
  branch?: string;
  /** The offer as the offering party sent it. */
  sdp: Buffer;
  /** What the receiving party speaks: the SDP returned is made for it. */
  toward: MediaEndpointKind;
}

export interface MediaAnswer {
  callId: string;
  /** The CallLegId of the party that made the offer (as in the offer). */
  fromTag: string;
  /** The CallLegId of the party that answers. */
  toTag: string;
  /** The branch of the offer that this answer answers (as in `MediaOffer.branch`). */
  branch?: string;
  /** The answer as the answering party sent it. */
  sdp: Buffer;
  /** What the party receiving the answer (the offerer) speaks. */
  toward: MediaEndpointKind;
}

export interface MediaEngine {
  /** A human name for logs and /health (e.g. `rtpengine 127.0.0.1:22222`). */
  readonly description: string;
  /** The SDP to send to the other party in place of an offer. Rejects with a MediaError. */
  offer(offer: MediaOffer): Promise<Buffer>;
  /** The SDP to send back to the offerer in place of an answer. Rejects with a MediaError. */
  answer(answer: MediaAnswer): Promise<Buffer>;
  /**
   * Record the call's media from now until it is deleted (rtpengine ng `start recording`; with
   * `--recording-method=pcap` the engine writes what each party sends, decrypted, to a pcap under
   * its recording directory). Calling it again while recording is harmless. Rejects with a
   * MediaError (e.g. MEDIA_ENGINE_ERROR for an unknown call).
   */
  startRecording(callId: string): Promise<RecordingStreamPorts>;
  /**
   * Play an audio file (WAV or MP3, an absolute path on the engine's host) to the party `toTag`
   * (rtpengine `play media` with that from-tag: the engine sends the file to that party, in place
   * of or mixed with what the other party sends). Replaces whatever was playing to that party.
   * Resolves with the file's length in ms. Rejects with a MediaError.
   */
  play(
    callId: string,
    toTag: string,
    file: string,
    options?: { repeat?: number },
  ): Promise<{ durationMs: number }>;
  /** Stop what `play` plays to `toTag` (no error when nothing plays). */
  stopPlaying(callId: string, toTag: string): Promise<void>;
  /**
   * Drop (true) or forward again (false) the media that party `fromTag` sends (rtpengine
   * `block media` / `unblock media`): a caller waiting in a queue, a party on hold, an agent
   * hearing a whisper are not heard by the other side. Without `fromTag`: the entire call, also a
   * party the engine learns of later (what the engine plays still plays; a queue call while its
   * agents ring); undone likewise without `fromTag`.
   */
  blockMedia(callId: string, fromTag: string | undefined, blocked: boolean): Promise<void>;
  /** The call-ids the engine holds state for (rtpengine `list`): a leak check for tests and /health. */
  listCalls(): Promise<string[]>;
  /** The call ended: release its media (idempotent; never rejects for an unknown call). */
  delete(callId: string): Promise<void>;
  /** Whether the engine answers right now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Where each party's media enters the engine while it records: CallLegId → the engine's own
 * ports that party sends RTP to. Journaled with the recording, so that a capture whose engine
 * died before writing its metadata can still be split into the two parties' channels.
 */
export type RecordingStreamPorts = Record<string, number[]>;
