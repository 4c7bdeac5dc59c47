/**
 * Test support for journals: small facts to fill a journal with. Shared by the contract suite
 * (journal.case.ts) and the tests of each implementation.
 */
import type { JournalFact } from './types.js';

/** A cheap fact of one call (a leg's 180): what ordering and durability tests append by the thousand. */
export function ringingFact(callId: string, n: number): JournalFact {
  return { type: 'LegRinging', callId, callLegId: `leg-${n}`, sipStatus: 180 };
}

/** A leg with its SIP identifiers: what `findLegs` answers from. */
export function legCreatedFact(
  callId: string,
  callLegId: string,
  sipCallId: string,
  role: 'caller' | 'allocation',
): JournalFact {
  return {
    type: 'LegCreated',
    callId,
    callLegId,
    role,
    direction: role === 'caller' ? 'inbound' : 'outbound',
    userId: `user-${callLegId}`,
    target: 'ws:127.0.0.1:5000',
    sip: {
      sipCallId,
      localTag: `local-${callLegId}`,
      remoteTag: role === 'caller' ? `remote-${callLegId}` : undefined,
    },
  };
}
