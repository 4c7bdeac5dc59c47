/**
 * A queue's live status, as `GET /queues` shows it in `Status` (DESIGN.md §11):
 *
 * - `openStatus`: 1 open, 0 closed, from the queue's opening hours (src/config/opening-hours.ts);
 * - `queueLength`: calls in the queue not yet connected to an agent — waiting, or being offered
 *   (ringing at a member);
 * - `maxWaitSeconds`: how long the longest of those has waited (0 when none);
 * - `ongoingCalls`: the queue's inbound calls connected to an agent now;
 * - `servingAgents`: members serving the queue who are Available and registered (whether free,
 *   on a call or in wrap-up) — who takes its calls;
 * - `freeAgents`: of those, the ones who may be offered a call now: not on a call, not in wrap-up;
 * - `agentsOnWrapUp`: of the serving agents, those in wrap-up.
 *
 * So freeAgents + (serving agents on a call) + agentsOnWrapUp = servingAgents.
 *
 * On one machine the calls are this process's. A cluster node counts every node's calls instead,
 * from the queue counts its realtime events keep of every journal partition (`cluster`:
 * src/cluster/realtime.ts).
 */
import { openStatusAt } from '../config/opening-hours.js';
import type { Queue } from '../config/types.js';
import type { AgentStates } from './agents.js';
import type { Call } from './call.js';

export interface QueueStatus {
  openStatus: number;
  queueLength: number;
  maxWaitSeconds: number;
  ongoingCalls: number;
  freeAgents: number;
  servingAgents: number;
  agentsOnWrapUp: number;
}

/** A queue's calls across a cluster: callId → when it entered, for the waiting ones; the connected. */
export interface ClusterQueueCalls {
  waiting: ReadonlyMap<string, number>;
  connected: ReadonlySet<string>;
}

export function computeQueueStatus(
  queue: Queue,
  agents: AgentStates | undefined,
  calls: Iterable<Call>,
  nowMs: number,
  cluster?: ClusterQueueCalls,
): QueueStatus {
  let queueLength = 0;
  let maxWaitSeconds = 0;
  let ongoingCalls = 0;
  if (cluster) {
    queueLength = cluster.waiting.size;
    for (const enteredMs of cluster.waiting.values())
      maxWaitSeconds = Math.max(maxWaitSeconds, Math.max(0, Math.round((nowMs - enteredMs) / 1000)));
    ongoingCalls = cluster.connected.size;
  } else {
    for (const call of calls) {
      const session = call.queueSession;
      if (session?.queue.queueId !== queue.queueId) continue;
      if (call.state === 'queued' && session.active) {
        queueLength++;
        maxWaitSeconds = Math.max(maxWaitSeconds, session.waitSeconds(nowMs));
      } else if (call.state === 'connected') {
        ongoingCalls++;
      }
    }
  }
  let servingAgents = 0;
  let freeAgents = 0;
  let agentsOnWrapUp = 0;
  for (const userId of queue.memberUserIds) {
    if (!agents?.isServing(userId, queue.queueId)) continue;
    if (agents.availabilityOf(userId).availability !== 'Available' || !agents.isRegisteredId(userId))
      continue;
    servingAgents++;
    if (agents.isInWrapUp(userId)) agentsOnWrapUp++;
    else if (!agents.isBusy(userId)) freeAgents++;
  }
  return {
    openStatus: openStatusAt(queue.openingHours, nowMs),
    queueLength,
    maxWaitSeconds,
    ongoingCalls,
    freeAgents,
    servingAgents,
    agentsOnWrapUp,
  };
}
