/**
 * The diagnostics queries, independent of HTTP: a call's identifier map as one user may see it, and
 * the lookup of any identifier — CallId, CallLegId, record Id, SIP Call-ID or a webphone's client
 * callId (Call-ID + From tag) — to the calls it belongs to.
 */

import { HttpError, notFound } from '../api/errors.js';
import type { Directory, User } from '../config/types.js';
import type { JournalLookup } from '../journal/types.js';
import type { RecordLookup, RecordReader } from '../records/types.js';
import { buildCallMap, restrictCallMap, toWireCallMap } from './call-map.js';
import type { CallMap, IdentifierMatch, WireCallMap, WireLookupResult } from './types.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** SIP Call-IDs are words of printable characters (RFC 3261 §25.1); a client callId appends a tag. */
const IDENTIFIER = /^[\x21-\x7e]{1,256}$/;
/** Longest From tag a client callId is assumed to end with (JsSIP: 10, SIP.js: 10, ours: 12). */
const MAX_TAG_LENGTH = 64;

export interface DiagnosticsServiceDeps {
  directory: Directory;
  journal: JournalLookup;
  records: RecordReader & RecordLookup;
  /** Finds a rendered recording's call (src/recordings), so that a RecordingId can be looked up. */
  recordings?: { getRecording(recordingId: string): Promise<{ callId: string } | undefined> };
}

/** A caller-supplied identifier: trimmed, printable, at most 256 characters. */
export function parseIdentifier(value: unknown, parameter: string): string {
  if (value === undefined || value === null || value === '') {
    throw new HttpError(
      'MISSING_PARAMETER',
      `${parameter} is required: a CallId, CallLegId, record Id, SIP Call-ID or client callId`,
      {
        parameter,
      },
    );
  }
  if (typeof value !== 'string') {
    throw new HttpError('BAD_PARAMETER', `${parameter} must be given once`, { parameter });
  }
  const trimmed = value.trim();
  if (!IDENTIFIER.test(trimmed)) {
    throw new HttpError(
      'BAD_PARAMETER',
      `${parameter} must be 1 to 256 printable characters without spaces`,
      { parameter },
    );
  }
  return trimmed;
}

export class DiagnosticsService {
  constructor(private readonly deps: DiagnosticsServiceDeps) {}

  /** Everything about a call, unrestricted; undefined for an unknown CallId. */
  async loadCallMap(callId: string): Promise<CallMap | undefined> {
    const { journal, records } = this.deps;
    const entries = await journal.readCall(callId);
    if (entries.length === 0) return undefined;
    const selection = { by: 'callId', callId } as const;
    const [userCallEvents, serviceCalls, serviceCallDetails, outboundServiceCalls, outboundCallbackCalls] =
      await Promise.all([
        records.listUserCallEvents({
          selection,
          visibleDirectCallUserIds: '*',
          visibleAgentCallUserIds: '*',
        }),
        records.listServiceCalls({ selection, visibleQueueIds: '*' }),
        records.listServiceCallDetails(callId),
        records.listOutboundServiceCalls({ selection, visibleQueueIds: '*' }),
        records.listOutboundCallbackCalls({ selection, visibleCallbackListIds: '*' }),
      ]);
    return buildCallMap(entries, {
      userCallEvents,
      serviceCalls,
      serviceCallDetails,
      outboundServiceCalls,
      outboundCallbackCalls,
    });
  }

  /** The map as `viewer` may see it; NOT_FOUND when the call is unknown or nothing of it is theirs to see. */
  async callMapFor(callIdParameter: string, viewer: User): Promise<WireCallMap> {
    const callId = UUID.test(callIdParameter) ? callIdParameter.toLowerCase() : callIdParameter;
    const full = UUID.test(callId) ? await this.loadCallMap(callId) : undefined;
    const visible = full ? restrictCallMap(full, viewer) : undefined;
    if (!visible) throw notFound(`No call ${callIdParameter} that you may see`);
    return toWireCallMap(visible.map, this.deps.directory, visible.complete);
  }

  /** Every call `identifier` names, as far as `viewer` may see them; NOT_FOUND when none. */
  async lookup(identifier: string, viewer: User): Promise<WireLookupResult> {
    const { journal, records } = this.deps;
    const candidates: IdentifierMatch[] = [];
    if (UUID.test(identifier)) {
      const uuid = identifier.toLowerCase();
      const [entries, legs, record, recording] = await Promise.all([
        journal.readCall(uuid),
        journal.findLegs({ callLegIds: [uuid] }),
        records.locateRecord(uuid),
        this.deps.recordings?.getRecording(uuid),
      ]);
      if (recording) {
        candidates.push({
          kind: 'RecordingId',
          callId: recording.callId,
          callLegId: null,
          eventId: null,
          recordKind: null,
        });
      }
      if (entries.length > 0)
        candidates.push({ kind: 'CallId', callId: uuid, callLegId: null, eventId: null, recordKind: null });
      for (const leg of legs) {
        candidates.push({
          kind: 'CallLegId',
          callId: leg.callId,
          callLegId: leg.callLegId,
          eventId: null,
          recordKind: null,
        });
      }
      if (record) {
        candidates.push({
          kind: 'EventId',
          callId: record.callId,
          callLegId: null,
          eventId: record.eventId,
          recordKind: record.kind,
        });
      }
    }
    // A SIP Call-ID as it is, or a client callId: a Call-ID followed directly by a From tag.
    const sipCallIds = [identifier];
    for (let tagLength = 1; tagLength <= MAX_TAG_LENGTH && tagLength < identifier.length; tagLength += 1) {
      sipCallIds.push(identifier.slice(0, identifier.length - tagLength));
    }
    for (const leg of await journal.findLegs({ sipCallIds })) {
      if (leg.sip.sipCallId === identifier) {
        candidates.push({
          kind: 'SipCallId',
          callId: leg.callId,
          callLegId: leg.callLegId,
          eventId: null,
          recordKind: null,
        });
      }
      const fromTag = leg.role === 'caller' ? leg.sip.remoteTag : leg.sip.localTag;
      if (fromTag && `${leg.sip.sipCallId}${fromTag}` === identifier) {
        candidates.push({
          kind: 'ClientCallId',
          callId: leg.callId,
          callLegId: leg.callLegId,
          eventId: null,
          recordKind: null,
        });
      }
    }

    const maps = new Map<string, Promise<ReturnType<typeof restrictCallMap>>>();
    const visibleMap = (callId: string) => {
      let map = maps.get(callId);
      if (!map) {
        map = this.loadCallMap(callId).then((full) => (full ? restrictCallMap(full, viewer) : undefined));
        maps.set(callId, map);
      }
      return map;
    };
    const matches: WireLookupResult['Matches'] = [];
    const seen = new Set<string>();
    for (const candidate of candidates) {
      const key = `${candidate.kind}|${candidate.callId}|${candidate.callLegId}|${candidate.eventId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const visible = await visibleMap(candidate.callId);
      if (!visible) continue;
      const shown =
        candidate.kind === 'CallId' ||
        (candidate.eventId !== null &&
          visible.map.records.some((entry) => entry.eventId === candidate.eventId)) ||
        (candidate.callLegId !== null &&
          visible.map.legs.some((leg) => leg.callLegId === candidate.callLegId)) ||
        (candidate.kind === 'RecordingId' &&
          visible.map.recordings.some((recording) => recording.recordingId === identifier.toLowerCase()));
      if (!shown) continue;
      matches.push({
        Kind: candidate.kind,
        CallId: candidate.callId,
        CallLegId: candidate.callLegId,
        EventId: candidate.eventId,
        RecordKind: candidate.recordKind,
        Href: `/diagnostics/calls/${candidate.callId}`,
      });
    }
    if (matches.length === 0) throw notFound(`Nothing you may see is identified by ${identifier}`);
    return { Query: identifier, Matches: matches };
  }
}
