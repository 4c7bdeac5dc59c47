/**
 * Call control's side of the media engine seam (src/media/types.ts): which SDP goes through the
 * engine, with which tags, made for which kind of party. A call's media is anchored when the
 * platform has an engine and the caller's INVITE carries an offer; otherwise its SDP passes
 * through untouched (signalling-only, as without an engine).
 */
import type { MediaEndpointKind, MediaEngine } from '../media/types.js';
import type { Flow } from '../sip/transport/types.js';

/** Browsers reach us over WebSocket and speak WebRTC; everything else speaks plain RTP. */
export function endpointKind(flow: Flow): MediaEndpointKind {
  return flow.protocol === 'ws' ? 'webrtc' : 'rtp';
}

/** The branch name of one target of an outbound leg (rtpengine `via-branch`). */
export function branchOf(callLegId: string, targetIndex: number): string {
  return `${callLegId}.${targetIndex}`;
}

/** Whether a body is an SDP offer the engine can anchor. */
export function isSdp(body: Buffer, contentType: string | undefined): boolean {
  return body.length > 0 && (contentType ?? 'application/sdp').toLowerCase().startsWith('application/sdp');
}

export type { MediaEngine };
