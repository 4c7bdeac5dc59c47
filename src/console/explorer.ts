/**
 * The call explorer panel: look an identifier up (`GET /diagnostics/lookup`), show each matching
 * call's identifier map (`GET /diagnostics/calls/{CallId}`) — legs and allocations, records with
 * the endpoint and permission that show them, the call's recordings (recordings.ts) and the
 * sequence diagram — and the list of recent calls the user may see. Here `callId` is always the
 * server's CallId; the webphone's per-device handle appears only as data (`ClientCallId`), never
 * as a name.
 */
import type { WireCallMap, WireLeg, WireLookupResult, WireRecord } from '../diagnostics/types.js';
import { HttpError, type RestClient, type ServiceCallWire, type UserCallEventWire } from './api-client.js';
import { renderSequence } from './diagram.js';
import { byId, clock, errorText, h, idLine, shortId, showError } from './dom.js';
import { legAnchor, renderRecordings } from './recordings.js';

// The page has one explorer: its state lives with the module.
let rest: RestClient | null = null;
/** The identifier shown last: an answer for an older query arriving late is dropped. */
let lastQuery: string | null = null;
let refreshTimer: ReturnType<typeof setTimeout> | null = null;

/** Signed in: the explorer asks the REST API with these credentials from now on. */
export function connectExplorer(client: RestClient): void {
  rest = client;
}

// ---- recent calls ---------------------------------------------------------------------------------------

interface RecentRow {
  callId: string;
  startMs: number;
  title: string;
  result: string;
}

/** The calls of the last two hours the user may see, newest first, one click to explore. */
export async function loadRecent(): Promise<void> {
  const client = rest;
  if (!client) return;
  const list = byId('recent-list');
  const now = Date.now();
  const window = {
    StartTime: new Date(now - 2 * 3_600_000).toISOString(),
    EndTime: new Date(now + 3_600_000).toISOString(),
  };
  try {
    const [events, services] = await Promise.all([
      client.get<UserCallEventWire[]>('/calls', window),
      client.get<ServiceCallWire[]>('/servicecall', window),
    ]);
    const rows = new Map<string, RecentRow>();
    for (const header of services) {
      rows.set(header.CallId, {
        callId: header.CallId,
        startMs: Date.parse(header.ArrivalTime),
        title: `${header.ANum} → ${header.QueueName}`,
        result: header.Result ?? 'in progress',
      });
    }
    for (const event of events) {
      if (rows.has(event.CallId)) continue;
      rows.set(event.CallId, {
        callId: event.CallId,
        startMs: Date.parse(event.TimeStamp),
        title: `${event.ANum} → ${event.BNum}`,
        result: `${event.CallTypeString} · ${event.Result}`,
      });
    }
    const sorted = [...rows.values()].sort((a, b) => b.startMs - a.startMs).slice(0, 8);
    list.replaceChildren();
    if (sorted.length === 0) {
      list.append(h('p', { class: 'muted small' }, 'No calls in the last two hours.'));
      return;
    }
    for (const row of sorted) {
      const item = h(
        'button',
        { type: 'button', class: 'recent-item', title: row.callId },
        h('span', { class: 'recent-time' }, clock(row.startMs)),
        h('span', { class: 'recent-title' }, row.title),
        h('span', { class: 'recent-result' }, row.result),
        h('code', { class: 'recent-id' }, shortId(row.callId)),
      );
      item.addEventListener('click', () => explore(row.callId));
      list.append(item);
    }
  } catch (error) {
    list.replaceChildren(h('p', { class: 'muted small' }, `Recent calls unavailable: ${errorText(error)}`));
  }
}

// ---- explorer ----------------------------------------------------------------------------------------------

/** Explore `identifier` as if it had been typed into the search field. */
export function explore(identifier: string): void {
  byId<HTMLInputElement>('explore-input').value = identifier;
  void runExplore(identifier.trim(), true);
}

/**
 * Look `identifier` up and show its calls; `fresh` is a new search (its error line is cleared and
 * the result hidden on failure), not a refresh of the one on screen.
 */
export async function runExplore(identifier: string, fresh: boolean): Promise<void> {
  const client = rest;
  if (!client || identifier === '') return;
  const error = byId('explore-error');
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = null;
  if (fresh) showError(error, null);
  lastQuery = identifier;
  try {
    const lookup = await client.get<WireLookupResult>('/diagnostics/lookup', { id: identifier });
    const callIds = [...new Set(lookup.Matches.map((match) => match.CallId))];
    const maps = await Promise.all(
      callIds.map((callId) => client.get<WireCallMap>(`/diagnostics/calls/${callId}`)),
    );
    if (lastQuery !== identifier) return;
    renderResult(client, identifier, lookup, maps);
    // Records are written as post-processing catches up: follow a call until it has ended and settled.
    const settling = maps.some((map) => map.EndTime === null || Date.now() - Date.parse(map.EndTime) < 4000);
    if (settling) refreshTimer = setTimeout(() => void runExplore(identifier, false), 1500);
  } catch (failure) {
    if (lastQuery !== identifier) return;
    const message =
      failure instanceof HttpError && failure.status === 404
        ? `Nothing you may see is identified by “${identifier}”.`
        : errorText(failure);
    showError(error, message);
    if (fresh) byId('result').hidden = true;
  }
}

const KIND_TEXT: Record<string, string> = {
  CallId: 'CallId (server)',
  CallLegId: 'CallLegId',
  EventId: 'record Id',
  SipCallId: 'SIP Call-ID',
  ClientCallId: 'client callId (webphone)',
  RecordingId: 'RecordingId',
};

function renderResult(
  client: RestClient,
  query: string,
  lookup: WireLookupResult,
  maps: WireCallMap[],
): void {
  const result = byId('result');
  result.hidden = false;
  result.replaceChildren();
  for (const map of maps) {
    const matches = lookup.Matches.filter((match) => match.CallId === map.CallId);
    result.append(renderCallMap(client, query, map, matches));
  }
}

function renderCallMap(
  client: RestClient,
  query: string,
  map: WireCallMap,
  matches: WireLookupResult['Matches'],
): HTMLElement {
  const matchText = matches.map((match) => KIND_TEXT[match.Kind] ?? match.Kind).join(', ');
  const duration = map.EndTime
    ? `${((Date.parse(map.EndTime) - Date.parse(map.StartTime)) / 1000).toFixed(1)} s`
    : 'in progress';
  const header = h(
    'div',
    { class: 'card map-head' },
    h(
      'div',
      { class: 'map-title' },
      h('span', { class: 'badge kind' }, map.CallKind),
      h('h2', {}, `${map.ANum} → ${map.BNum}`),
      map.Complete
        ? null
        : h(
            'span',
            { class: 'badge partial', title: 'Parts you have no permission for are left out' },
            'partial view',
          ),
    ),
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'CallId'),
      h(
        'dd',
        {},
        h(
          'code',
          { class: `id-value ${map.CallId === query ? 'hit' : ''}`, 'data-testid': 'map-call-id' },
          map.CallId,
        ),
      ),
      h('dt', {}, 'matched as'),
      h('dd', {}, matchText || '—'),
      h('dt', {}, 'started'),
      h('dd', {}, `${clock(map.StartTime)} · ${duration}`),
      h('dt', {}, 'ended'),
      h('dd', {}, map.EndReason ? `${map.EndReason}${map.EndCause ? ` (${map.EndCause})` : ''}` : '—'),
      map.Queues.length > 0 ? h('dt', {}, 'queues') : null,
      map.Queues.length > 0 ? h('dd', {}, map.Queues.map((queue) => queue.QueueName).join(', ')) : null,
    ),
  );
  return h(
    'article',
    { class: 'call-map', 'data-call-id': map.CallId },
    header,
    h('div', { class: 'card' }, h('h3', {}, 'Legs and allocations'), renderLegs(query, map)),
    renderRecordings(client, query, map),
    h('div', { class: 'card' }, h('h3', {}, 'Who was offered the call when'), renderSequence(map)),
    h(
      'div',
      { class: 'card' },
      h('h3', {}, `Records (${map.Records.length})`),
      renderRecords(query, map.Records),
    ),
  );
}

function legRoleText(leg: WireLeg): string {
  if (leg.Allocation) return `Allocation #${leg.Allocation.Ordinal}`;
  return leg.Role;
}

function legOutcome(leg: WireLeg): HTMLElement {
  if (leg.Allocation) {
    const { Outcome, RejectReason } = leg.Allocation;
    return h(
      'span',
      { class: `badge outcome ${Outcome.toLowerCase()}` },
      RejectReason ? `${Outcome} · ${RejectReason}` : Outcome,
    );
  }
  if (leg.AnswerTime) return h('span', { class: 'badge outcome connected' }, 'Answered');
  if (leg.EndTime)
    return h(
      'span',
      { class: 'badge outcome rejected' },
      `${leg.EndSipStatus ?? ''} ${leg.EndCause ?? ''}`.trim(),
    );
  return h('span', { class: 'badge outcome pending' }, 'Ringing');
}

/** "recorded · channel 0 (A)" on a leg that is a channel of one of the call's recordings. */
function recordedBadges(map: WireCallMap, leg: WireLeg): HTMLElement[] {
  const badges: HTMLElement[] = [];
  for (const recording of map.Recordings) {
    const channel = recording.ALegId === leg.CallLegId ? 0 : recording.BLegId === leg.CallLegId ? 1 : null;
    if (channel === null) continue;
    badges.push(
      h(
        'div',
        { class: 'outcome-line' },
        h(
          'span',
          { class: 'badge recorded', title: `RecordingId ${recording.RecordingId}` },
          `recorded · channel ${channel} (${channel === 0 ? 'A' : 'B'})`,
        ),
      ),
    );
  }
  return badges;
}

function renderLegs(query: string, map: WireCallMap): HTMLElement {
  const legs = map.Legs;
  if (legs.length === 0) return h('p', { class: 'muted' }, 'No legs you may see.');
  const table = h(
    'table',
    { class: 'grid legs', 'data-testid': 'legs' },
    h(
      'thead',
      {},
      h('tr', {}, ...['Leg · outcome', 'User', 'Identifiers', 'Times'].map((title) => h('th', {}, title))),
    ),
  );
  const body = h('tbody');
  for (const leg of legs) {
    body.append(
      h(
        'tr',
        { id: legAnchor(leg.CallLegId), 'data-leg-id': leg.CallLegId, 'data-role': leg.Role },
        h(
          'td',
          {},
          h('span', { class: `badge role ${leg.Role.toLowerCase()}` }, legRoleText(leg)),
          leg.QueueName ? h('div', { class: 'muted small' }, leg.QueueName) : null,
          h('div', { class: 'outcome-line' }, legOutcome(leg)),
          ...recordedBadges(map, leg),
        ),
        h(
          'td',
          { class: 'user-cell' },
          leg.User ? `${leg.User.DisplayName ?? leg.User.UserName}` : leg.Target,
          leg.User
            ? h('div', { class: 'muted small' }, `${leg.User.UserName} · ${leg.User.Extension}`)
            : null,
        ),
        h(
          'td',
          { class: 'ids-cell' },
          idLine('CallLegId', leg.CallLegId, query, 'leg-call-leg-id'),
          idLine('client callId', leg.ClientCallId, query, 'leg-client-call-id'),
          idLine('SIP Call-ID', leg.Sip.CallId, query),
          h(
            'div',
            { class: 'id-line tags' },
            h('span', { class: 'id-label' }, 'tags'),
            h(
              'span',
              { class: 'muted small mono' },
              `local ${leg.Sip.LocalTag} · remote ${leg.Sip.RemoteTag ?? '—'}`,
            ),
          ),
        ),
        h(
          'td',
          { class: 'small times' },
          h('div', {}, h('span', { class: 'muted' }, 'created '), clock(leg.CreatedTime)),
          leg.AnswerTime
            ? h('div', {}, h('span', { class: 'muted' }, 'answered '), clock(leg.AnswerTime))
            : null,
          leg.EndTime ? h('div', {}, h('span', { class: 'muted' }, 'ended '), clock(leg.EndTime)) : null,
        ),
      ),
    );
  }
  table.append(body);
  return h('div', { class: 'table-wrap' }, table);
}

function recordSummary(record: WireRecord): string {
  const data = record.Record;
  const text = (name: string) => (data[name] === null || data[name] === undefined ? '' : String(data[name]));
  switch (record.Kind) {
    case 'UserCallEvent':
      return `${text('UserName')} · ${text('CallTypeString')} · ${text('DirectionString')} · ${text('Result')}`;
    case 'ServiceCall':
      return `${text('QueueName')} · ${text('Result') || 'in progress'} · ${text('AllocationCount')} allocation(s)`;
    case 'ServiceCallDetail':
      return `${text('EventTypeString')}${text('UserName') ? ` · ${text('UserName')}` : ''}${text('Reason') ? ` · ${text('Reason')}` : ''}`;
    default:
      return `${text('UserName')} · ${text('Result') || 'in progress'}`;
  }
}

/** The RecordingIds a record lists (UserCallEvent, ServiceCall): the recordings of its call it shows. */
function recordingIdsOf(record: WireRecord): string[] {
  const ids = record.Record.RecordingIds;
  return Array.isArray(ids) ? ids.filter((id): id is string => typeof id === 'string') : [];
}

function renderRecords(query: string, records: WireRecord[]): HTMLElement {
  if (records.length === 0)
    return h(
      'p',
      { class: 'muted' },
      'No records you may see yet (post-processing writes them as the call progresses).',
    );
  const table = h(
    'table',
    { class: 'grid records', 'data-testid': 'records' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...['Record', 'What', 'Identifiers', 'Served by · shown with'].map((title) => h('th', {}, title)),
      ),
    ),
  );
  const body = h('tbody');
  for (const record of records) {
    body.append(
      h(
        'tr',
        { 'data-record-id': record.Id, 'data-kind': record.Kind },
        h('td', {}, h('span', { class: `badge record ${record.Kind}` }, record.Kind)),
        h('td', { class: 'record-summary' }, recordSummary(record)),
        h(
          'td',
          { class: 'ids-cell' },
          idLine('Id', record.Id, query),
          record.CallLegId ? idLine('CallLegId', record.CallLegId, query) : null,
          ...recordingIdsOf(record).map((recordingId) => idLine('RecordingId', recordingId, query)),
        ),
        h(
          'td',
          { class: 'served' },
          h('code', { class: 'endpoint' }, record.Endpoint),
          h('div', {}, h('span', { class: 'badge permission' }, record.Permission.Text)),
        ),
      ),
    );
  }
  table.append(body);
  return h('div', { class: 'table-wrap' }, table);
}
