/**
 * The SIP user-agent layer: the UA core with its per-method delegate and dialog table, and the
 * UAS / UAC INVITE usages an application (call control) builds on.
 */
export { DialogTable } from './dialog-table.js';
export {
  bestFailure,
  type InviteClientEvents,
  type InviteClientSetup,
  InviteClientUsage,
  type InviteTarget,
} from './invite-client.js';
export { type InviteServerEvents, type InviteServerSetup, InviteServerUsage } from './invite-server.js';
export {
  ALLOW,
  type DialogIdentifiers,
  type DialogUsage,
  type InDialogEvents,
  type InDialogRequestHandlers,
  type UsageState,
} from './usage.js';
export { UserAgent, type UserAgentDelegate, type UserAgentOptions } from './user-agent.js';
