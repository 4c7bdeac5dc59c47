/**
 * Journal facts → realtime events (DESIGN.md §12). Pure: an `EventDeriver` keeps what it needs of
 * each call (numbers, queue, the user of each leg) and of each queue (the calls waiting in it) and
 * turns one journal entry into zero or more events. The same entries in the same order always
 * yield the same events with the same ids (`<seq>-<n>`), so a replay from the journal (resume,
 * restart) reproduces exactly what was delivered live. The numbers are listed in README.md.
 */
import type { Directory } from '../config/types.js';
import type { JournalEntry } from '../journal/types.js';
import type { RealtimeEntityType, RealtimeEvent } from './types.js';

/** Event names and their `eventType` numbers (EnreachVoice's where known; ours otherwise). */
export const EVENT_TYPES = {
  UserAvailability: 1,
  UserCallInComing: 10,
  UserCallOutGoing: 11,
  UserCallInConnected: 12,
  UserCallDisconnected: 13,
  UserWrapUpEnded: 20,
  QueueCallInArrived: 100,
  QueueCallInUserAllocated: 102,
  QueueCallInUserConnected: 103,
  QueueCallInUserCancelled: 104,
  QueueCallInOverflow: 105,
  QueueCallInTransferStarted: 106,
  QueueCallInTransferConnected: 107,
  QueueCallInDisconnected: 108,
  QueueStatus: 140,
  UserStatus: 141,
  CallbackCallOutGoing: 150,
  CallbackCallDisconnected: 151,
} as const;

export type RealtimeEventName = keyof typeof EVENT_TYPES;
export const EVENT_NAMES = Object.keys(EVENT_TYPES) as RealtimeEventName[];

/** Which entity each event is about. */
export const ENTITY_TYPE_OF: Readonly<Record<RealtimeEventName, RealtimeEntityType>> = {
  UserAvailability: 'User',
  UserCallInComing: 'User',
  UserCallOutGoing: 'User',
  UserCallInConnected: 'User',
  UserCallDisconnected: 'User',
  UserWrapUpEnded: 'User',
  UserStatus: 'User',
  QueueCallInArrived: 'Queue',
  QueueCallInUserAllocated: 'Queue',
  QueueCallInUserConnected: 'Queue',
  QueueCallInUserCancelled: 'Queue',
  QueueCallInOverflow: 'Queue',
  QueueCallInTransferStarted: 'Queue',
  QueueCallInTransferConnected: 'Queue',
  QueueCallInDisconnected: 'Queue',
  QueueStatus: 'Queue',
  CallbackCallOutGoing: 'CallbackList',
  CallbackCallDisconnected: 'CallbackList',
};

interface LegInfo {
  userId?: string;
  role: string;
  queueId?: string;
}

interface CallContext {
  callId: string;
  callKind: string;
  aNum: string;
  bNum: string;
  queueId?: string;
  callerUserId?: string;
  callbackListId?: string;
  callbackRequestId?: string;
  callerLegId?: string;
  legs: Map<string, LegInfo>;
  /** Queues the call is waiting in now (entered, not left). */
  waitingIn: Set<string>;
  /** Every queue the call visited. */
  queues: Set<string>;
}

export interface QueueCounts {
  /** callId → when it entered. */
  waiting: Map<string, number>;
  /** Calls connected to an agent of the queue, not yet ended. */
  connected: Set<string>;
}

export interface DeriverOptions {
  directory: Pick<Directory, 'queueById' | 'userById'>;
  /** Contexts for calls the deriver has not seen start (a replay from the middle). */
  maxCalls?: number;
  /**
   * Put before every event id: a cluster node's events of another node's partition are
   * `<node>~<seq>-<n>` (the sequence is that partition's).
   */
  idPrefix?: string;
  /**
   * Queue counts shared with other derivers (a cluster node follows every partition; a queue's
   * waiting and connected calls are those of all of them). Default: this deriver's own.
   */
  queueCounts?: Map<string, QueueCounts>;
}

/** Turns journal entries into events, in order; keeps per-call and per-queue state. */
export class EventDeriver {
  private readonly calls = new Map<string, CallContext>();
  private readonly queues: Map<string, QueueCounts>;

  constructor(private readonly opts: DeriverOptions) {
    this.queues = opts.queueCounts ?? new Map();
  }

  /** Whether the deriver knows the call (saw its CallStarted). */
  knows(callId: string): boolean {
    return this.calls.has(callId);
  }

  /** Feed an entry only to build context (no events): earlier entries of a call replayed from the middle. */
  prime(entry: JournalEntry): void {
    this.derive(entry);
  }

  derive(entry: JournalEntry): RealtimeEvent[] {
    const out: RealtimeEvent[] = [];
    const fact = entry.fact;
    const emit = (name: RealtimeEventName, entityId: string, data: Record<string, unknown>) => {
      const eventId = `${this.opts.idPrefix ?? ''}${entry.seq}-${out.length}`;
      const eventType = EVENT_TYPES[name];
      out.push({
        eventId,
        seq: entry.seq,
        eventType,
        eventName: name,
        entityType: ENTITY_TYPE_OF[name],
        entityId,
        timestampMs: entry.timeMs,
        data: {
          eventId,
          eventType,
          eventName: name,
          entityType: ENTITY_TYPE_OF[name],
          entityId,
          timestamp: new Date(entry.timeMs).toISOString(),
          ...data,
        },
      });
    };

    switch (fact.type) {
      case 'AvailabilityChanged':
        emit('UserAvailability', fact.userId, {
          userId: fact.userId,
          availability: fact.availability,
          note: fact.note ?? null,
          endTime: fact.endTimeMs === undefined ? null : new Date(fact.endTimeMs).toISOString(),
          cause: fact.cause,
          changedByUserId: fact.changedByUserId ?? null,
        });
        return out;
      case 'ServingChanged':
        emit('UserStatus', fact.userId, {
          userId: fact.userId,
          queueId: fact.queueId,
          queueName: this.queueName(fact.queueId),
          serving: fact.serving,
          changedByUserId: fact.changedByUserId ?? null,
        });
        return out;
      case 'WrapUpEnded':
        emit('UserWrapUpEnded', fact.userId, {
          userId: fact.userId,
          changedByUserId: fact.changedByUserId ?? null,
        });
        return out;
      case 'CallStarted': {
        this.calls.set(fact.callId, {
          callId: fact.callId,
          callKind: fact.callKind,
          aNum: fact.aNum,
          bNum: fact.bNum,
          queueId: fact.queueId,
          callerUserId: fact.callerUserId,
          callbackListId: fact.callbackListId,
          callbackRequestId: fact.callbackRequestId,
          legs: new Map(),
          waitingIn: new Set(),
          queues: new Set(),
        });
        this.trim();
        return out;
      }
      default:
        break;
    }

    const call = this.calls.get(fact.callId);
    if (call === undefined) return out; // a call whose start is outside what was read
    const callData = (callLegId: string | null, extra: Record<string, unknown> = {}) => {
      const leg = callLegId === null ? undefined : call.legs.get(callLegId);
      const queueId = (extra.queueId as string | undefined) ?? leg?.queueId ?? call.queueId ?? null;
      return {
        callId: call.callId,
        callLegId,
        callerNumber: call.aNum,
        targetNumber: call.bNum,
        callKind: call.callKind,
        queueId,
        queueName: queueId === null ? null : this.queueName(queueId),
        // The agent's / callee's user; the calling user is `callerUserId`.
        userId: leg !== undefined && leg.role !== 'caller' ? (leg.userId ?? null) : null,
        callerUserId: call.callerUserId ?? null,
        ...extra,
      };
    };

    switch (fact.type) {
      case 'LegCreated': {
        call.legs.set(fact.callLegId, { userId: fact.userId, role: fact.role, queueId: fact.queueId });
        if (fact.role === 'caller') {
          call.callerLegId = fact.callLegId;
          const userId = fact.userId ?? call.callerUserId;
          if (userId !== undefined) {
            call.legs.set(fact.callLegId, { userId, role: fact.role, queueId: fact.queueId });
            emit('UserCallOutGoing', userId, callData(fact.callLegId, { userId }));
          }
          if (call.callKind === 'outbound-callback' && call.callbackListId !== undefined) {
            emit(
              'CallbackCallOutGoing',
              call.callbackListId,
              callData(fact.callLegId, {
                callbackListId: call.callbackListId,
                callbackRequestId: call.callbackRequestId ?? null,
                userId: call.callerUserId ?? null,
              }),
            );
          }
        } else if (fact.userId !== undefined && fact.role !== 'trunk') {
          emit('UserCallInComing', fact.userId, callData(fact.callLegId));
        }
        return out;
      }
      case 'LegAnswered': {
        const leg = call.legs.get(fact.callLegId);
        if (leg?.userId !== undefined && leg.role !== 'caller') {
          emit('UserCallInConnected', leg.userId, callData(fact.callLegId));
        }
        return out;
      }
      case 'LegEnded': {
        const leg = call.legs.get(fact.callLegId);
        if (leg?.userId !== undefined) {
          emit(
            'UserCallDisconnected',
            leg.userId,
            callData(fact.callLegId, { userId: leg.userId, reason: fact.cause }),
          );
        }
        return out;
      }
      case 'QueueEntered': {
        call.waitingIn.add(fact.queueId);
        call.queues.add(fact.queueId);
        this.queue(fact.queueId).waiting.set(call.callId, entry.timeMs);
        emit(
          'QueueCallInArrived',
          fact.queueId,
          callData(call.callerLegId ?? null, { queueId: fact.queueId }),
        );
        this.status(emit, fact.queueId, entry.timeMs);
        return out;
      }
      case 'AllocationOffered':
        emit('QueueCallInUserAllocated', fact.queueId, {
          ...callData(fact.callLegId, { queueId: fact.queueId }),
          userId: fact.userId,
        });
        return out;
      case 'AllocationRejected':
        emit('QueueCallInUserCancelled', fact.queueId, {
          ...callData(fact.callLegId, { queueId: fact.queueId }),
          userId: fact.userId,
          reason: fact.reason,
        });
        return out;
      case 'AllocationConnected': {
        const counts = this.queue(fact.queueId);
        counts.waiting.delete(call.callId);
        counts.connected.add(call.callId);
        call.waitingIn.delete(fact.queueId);
        emit('QueueCallInUserConnected', fact.queueId, {
          ...callData(fact.callLegId, { queueId: fact.queueId }),
          userId: fact.userId,
        });
        this.status(emit, fact.queueId, entry.timeMs);
        return out;
      }
      case 'QueueLeft': {
        call.waitingIn.delete(fact.queueId);
        const counts = this.queue(fact.queueId);
        const wasWaiting = counts.waiting.delete(call.callId);
        if (fact.reason === 'Overflow') {
          emit(
            'QueueCallInOverflow',
            fact.queueId,
            callData(call.callerLegId ?? null, {
              queueId: fact.queueId,
              overflowTarget: fact.overflowTarget ?? null,
            }),
          );
        }
        if (wasWaiting) this.status(emit, fact.queueId, entry.timeMs);
        return out;
      }
      case 'TransferRequested': {
        const leg = call.legs.get(fact.callLegId);
        const queueId = leg?.queueId ?? call.queueId;
        if (queueId !== undefined) {
          emit('QueueCallInTransferStarted', queueId, {
            ...callData(fact.callLegId, { queueId }),
            transferTarget: fact.target,
            transferTargetKind: fact.targetKind,
            transferTargetUserId: fact.userId ?? null,
            transferTargetQueueId: fact.queueId ?? null,
          });
        }
        return out;
      }
      case 'TransferCompleted': {
        const leg = call.legs.get(fact.callLegId);
        const queueId = leg?.queueId ?? call.queueId;
        if (queueId !== undefined) {
          emit('QueueCallInTransferConnected', queueId, {
            ...callData(fact.callLegId, { queueId }),
            newCallLegId: fact.newCallLegId ?? null,
          });
        }
        return out;
      }
      case 'CallEnded': {
        for (const queueId of call.queues) {
          const counts = this.queue(queueId);
          const changed = counts.waiting.delete(call.callId) || counts.connected.delete(call.callId);
          emit(
            'QueueCallInDisconnected',
            queueId,
            callData(call.callerLegId ?? null, { queueId, reason: fact.reason }),
          );
          if (changed) this.status(emit, queueId, entry.timeMs);
        }
        if (call.callKind === 'outbound-callback' && call.callbackListId !== undefined) {
          emit(
            'CallbackCallDisconnected',
            call.callbackListId,
            callData(call.callerLegId ?? null, {
              callbackListId: call.callbackListId,
              callbackRequestId: call.callbackRequestId ?? null,
              userId: call.callerUserId ?? null,
              reason: fact.reason,
            }),
          );
        }
        this.calls.delete(call.callId);
        return out;
      }
      default:
        return out;
    }
  }

  private queueName(queueId: string): string | null {
    return this.opts.directory.queueById(queueId)?.name ?? null;
  }

  private queue(queueId: string): QueueCounts {
    let counts = this.queues.get(queueId);
    if (counts === undefined) {
      counts = { waiting: new Map(), connected: new Set() };
      this.queues.set(queueId, counts);
    }
    return counts;
  }

  /** QueueStatus from the journal's own counts (calls waiting, longest wait, calls connected). */
  private status(
    emit: (name: RealtimeEventName, entityId: string, data: Record<string, unknown>) => void,
    queueId: string,
    nowMs: number,
  ): void {
    const counts = this.queue(queueId);
    let oldest: number | null = null;
    for (const at of counts.waiting.values()) if (oldest === null || at < oldest) oldest = at;
    emit('QueueStatus', queueId, {
      queueId,
      queueName: this.queueName(queueId),
      queueLength: counts.waiting.size,
      maxWaitTime: oldest === null ? 0 : Math.max(0, Math.round((nowMs - oldest) / 1000)),
      connectedCalls: counts.connected.size,
    });
  }

  /** Bound memory: calls that never ended (a journal cut short) are forgotten oldest first. */
  private trim(): void {
    const max = this.opts.maxCalls ?? 100_000;
    while (this.calls.size > max) {
      const first = this.calls.keys().next().value;
      if (first === undefined) break;
      this.calls.delete(first);
    }
  }
}
