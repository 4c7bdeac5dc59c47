/**
 * Calls a user places for a queue (DESIGN.md §1–2): an outbound service call
 * (`X-On-Behalf-Of-Queue: <queue id, name, extension or number>`) or an outbound callback call
 * (`X-Callback-Request-Id: <id>`). This module decides whether the caller may place it and what
 * the call then is — kind, the queue whose number the callee sees, the number to dial — as a
 * value; call control routes it like any dialled number. Refusals are values too: a SIP status
 * and a reason phrase.
 */
import { canSee } from '../config/permissions.js';
import type { Directory, Queue, User } from '../config/types.js';

/** What call control needs to know of a callback request (the record store provides it). */
export interface CallbackRequestSource {
  getCallbackRequest(
    callbackRequestId: string,
  ): Promise<{ callbackListId: string; number: string; status: string } | undefined>;
}

/** A call placed for a queue, as call control starts it. */
export interface OnBehalfCall {
  kind: 'outbound-service' | 'outbound-callback';
  /** The queue whose number (and name) the callee sees; it owns an outbound service call. */
  queue: Queue;
  /** The number the callee is called at: the dialled one, or the callback request's. */
  dialled: string;
  callbackListId?: string;
  callbackRequestId?: string;
}

export interface OutboundRefusal {
  status: number;
  reason: string;
}

export type OutboundDecision = { ok: true; call: OnBehalfCall } | ({ ok: false } & OutboundRefusal);

const refuse = (status: number, reason: string): OutboundDecision => ({ ok: false, status, reason });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The calling number a queue presents: its number, else its extension — never the agent's own. */
export function presentedNumber(queue: Queue): string {
  return queue.number ?? queue.extension ?? 'anonymous';
}

export interface OutboundRequest {
  /** Header values as received (undefined when absent). */
  onBehalfOfQueue: string | undefined;
  callbackRequestId: string | undefined;
  /** The authenticated calling user; undefined for a trunk. */
  callerUser: User | undefined;
  /** The Request-URI's user part (the dialled number of an outbound service call). */
  dialled: string;
}

export interface OutboundContext {
  directory: Directory;
  callbacks: CallbackRequestSource | undefined;
}

/**
 * Who may place what:
 * - only our users (a trunk cannot act for a queue): 403;
 * - both headers at once: 400 (which one would the call be?);
 * - on behalf of a queue: the queue must exist (404) and the user must be one of its members (403);
 * - a callback: the request must exist (404; also for a malformed id or a list no longer
 *   configured), the user must hold the CallbackList permission of its list (403), and it must be
 *   Open (403 "Callback Request Not Open"). Whether another callback call for it is in progress is
 *   call control's to check (it knows the live calls).
 */
export async function decideOutbound(
  request: OutboundRequest,
  context: OutboundContext,
): Promise<OutboundDecision> {
  const { directory } = context;
  const { callerUser } = request;
  if (request.onBehalfOfQueue !== undefined && request.callbackRequestId !== undefined) {
    return refuse(400, 'Both X-On-Behalf-Of-Queue And X-Callback-Request-Id');
  }
  if (!callerUser) return refuse(403, 'Only Users Call On Behalf Of A Queue');

  if (request.onBehalfOfQueue !== undefined) {
    const queue = directory.queueByReference(request.onBehalfOfQueue);
    if (!queue) return refuse(404, 'Queue Not Found');
    if (!queue.memberUserIds.includes(callerUser.userId)) return refuse(403, 'Not A Member Of The Queue');
    return { ok: true, call: { kind: 'outbound-service', queue, dialled: request.dialled } };
  }

  const callbackRequestId = (request.callbackRequestId ?? '').trim().toLowerCase();
  if (!context.callbacks) return refuse(503, 'Callback Requests Unavailable');
  if (!UUID.test(callbackRequestId)) return refuse(404, 'Callback Request Not Found');
  const found = await context.callbacks.getCallbackRequest(callbackRequestId);
  const list = found ? directory.callbackListById(found.callbackListId) : undefined;
  const queue = list ? directory.queueById(list.queueId) : undefined;
  if (!found || !list || !queue) return refuse(404, 'Callback Request Not Found');
  if (!canSee(callerUser, 'CallbackList', list.callbackListId))
    return refuse(403, 'No CallbackList Permission');
  if (found.status !== 'Open') return refuse(403, 'Callback Request Not Open');
  return {
    ok: true,
    call: {
      kind: 'outbound-callback',
      queue,
      dialled: found.number,
      callbackListId: list.callbackListId,
      callbackRequestId,
    },
  };
}
