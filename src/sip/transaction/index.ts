/**
 * SIP transactions (RFC 3261 §17, with the RFC 6026 "Accepted" state for INVITE 2xx), one file per
 * kind: INVITE and non-INVITE, client and server.
 *
 * Server transactions absorb request retransmissions and retransmit final responses over UDP;
 * client transactions retransmit requests over UDP and time out. Over WebSocket (reliable) no
 * retransmission happens and the wait timers D, I, J, K are zero.
 */
import type { InviteClientTransaction } from './invite-client.js';
import type { InviteServerTransaction } from './invite-server.js';
import type { NonInviteClientTransaction } from './non-invite-client.js';
import type { NonInviteServerTransaction } from './non-invite-server.js';

export { buildNon2xxAck, InviteClientTransaction } from './invite-client.js';
export { InviteServerTransaction } from './invite-server.js';
export { NonInviteClientTransaction } from './non-invite-client.js';
export { NonInviteServerTransaction } from './non-invite-server.js';
export { DEFAULT_TIMERS, type TimerConfig } from './timers.js';
export type {
  ClientFailureReason,
  ClientTransactionHandlers,
  ServerTerminationReason,
  TransactionHost,
} from './types.js';

/** Either kind of server transaction; `isInvite` tells them apart. */
export type ServerTransaction = InviteServerTransaction | NonInviteServerTransaction;
/** Either kind of client transaction; `isInvite` tells them apart. */
export type ClientTransaction = InviteClientTransaction | NonInviteClientTransaction;
