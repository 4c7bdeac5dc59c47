/**
 * The Switchboard web console: sign in with REST credentials, a softphone on the webphone SDK that
 * shows each call's identifiers live, and the call explorer over the diagnostics endpoints.
 * Plain DOM, no framework; bundled by esbuild with the SDK (src/web/assets.ts).
 */
import type {
  WireCallMap,
  WireLeg,
  WireLookupResult,
  WireRecord,
  WireTimelineStep,
} from '../diagnostics/types.js';
import { type CallEndedEvent, WebPhone, type WebPhoneCall, WebPhoneError } from '../webphone/webphone.js';

// ---- tiny DOM helpers -------------------------------------------------------------------------------

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue;
    if (name === 'class') element.className = String(value);
    else element.setAttribute(name, value === true ? '' : value);
  }
  for (const child of children)
    if (child !== null && child !== undefined && child !== false) element.append(child);
  return element;
}

const SVG = 'http://www.w3.org/2000/svg';
function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number> = {},
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`console: #${id} is missing from the page`);
  return element as T;
}

function showError(element: HTMLElement, message: string | null): void {
  element.textContent = message ?? '';
  element.hidden = message === null;
}

const timeFormat = new Intl.DateTimeFormat(undefined, {
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hour12: false,
});
function clock(ms: number | string | null): string {
  if (ms === null) return '—';
  const date = new Date(ms);
  return `${timeFormat.format(date)}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

function shortId(id: string, keep = 8): string {
  return id.length > keep + 6 ? `${id.slice(0, keep)}…${id.slice(-4)}` : id;
}

// ---- REST client ---------------------------------------------------------------------------------------

interface MeWire {
  Id: string;
  UserName: string;
  DisplayName: string | null;
  Extension: string;
  Role: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

class RestClient {
  private constructor(
    readonly email: string,
    private readonly authorization: string,
  ) {}

  static async signIn(email: string, password: string): Promise<RestClient> {
    const response = await fetch(`/authuser/${encodeURIComponent(email)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Json-Serializer': '2' },
      body: JSON.stringify({ UserName: email, Password: password }),
    });
    const body = (await response.json().catch(() => ({}))) as { SecretKey?: string; Message?: string };
    if (!response.ok || !body.SecretKey)
      throw new HttpError(response.status, body.Message ?? `sign-in failed (${response.status})`);
    return new RestClient(email, `Basic ${btoa(`${email}:${body.SecretKey}`)}`);
  }

  async get<T>(path: string, query: Record<string, string> = {}): Promise<T> {
    const url = new URL(path, location.origin);
    for (const [name, value] of Object.entries(query)) url.searchParams.set(name, value);
    const response = await fetch(url, {
      headers: { Authorization: this.authorization, 'X-Json-Serializer': '2' },
    });
    const text = await response.text();
    const body = text ? (JSON.parse(text) as unknown) : undefined;
    if (!response.ok) {
      const message =
        (body as { Message?: string } | undefined)?.Message ?? `${path}: HTTP ${response.status}`;
      throw new HttpError(response.status, message);
    }
    return body as T;
  }
}

// ---- state -----------------------------------------------------------------------------------------------

interface CallView {
  call: WebPhoneCall;
  ended: CallEndedEvent | null;
  dtmfOpen: boolean;
}

const state: {
  rest: RestClient | null;
  me: MeWire | null;
  phone: WebPhone | null;
  calls: Map<string, CallView>;
  lastQuery: string | null;
  refreshTimer: ReturnType<typeof setTimeout> | null;
} = { rest: null, me: null, phone: null, calls: new Map(), lastQuery: null, refreshTimer: null };

const sipDomain =
  document.querySelector<HTMLMetaElement>('meta[name="switchboard-sip-domain"]')?.content ||
  location.hostname;

// ---- sign in ---------------------------------------------------------------------------------------------

async function signIn(email: string, password: string): Promise<void> {
  const rest = await RestClient.signIn(email, password);
  const me = await rest.get<MeWire>('/users/me');
  state.rest = rest;
  state.me = me;
  byId('signin').hidden = true;
  byId('workspace').hidden = false;
  byId('session').hidden = false;
  byId('session-user').textContent =
    `${me.DisplayName ?? me.UserName} · ${me.UserName} · ext ${me.Extension}${me.Role === 'Admin' ? ' · admin' : ''}`;
  byId('softphone-identity').textContent = `sip:${me.Extension}@${sipDomain}`;
  void loadQueues();
  void loadRecent();
  startPhone(me.Extension, password);
}

function signOut(): void {
  state.phone?.stop();
  state.phone = null;
  state.rest = null;
  state.me = null;
  state.calls.clear();
  location.reload();
}

async function loadQueues(): Promise<void> {
  if (!state.rest) return;
  try {
    const queues = await state.rest.get<{ Id: string; Name: string; MemberUserIds: string[] }[]>('/queues');
    const select = byId<HTMLSelectElement>('dial-queue');
    // Only a queue's members may call on its behalf.
    for (const queue of queues.filter((candidate) => candidate.MemberUserIds.includes(state.me?.Id ?? ''))) {
      select.append(h('option', { value: queue.Id }, `on behalf of ${queue.Name}`));
    }
  } catch {
    // The dial form works without the list.
  }
}

// ---- softphone -------------------------------------------------------------------------------------------

function setRegistration(text: string, stateName: 'idle' | 'pending' | 'ok' | 'failed'): void {
  const pill = byId('registration');
  pill.textContent = text;
  pill.dataset.state = stateName;
}

function startPhone(extension: string, password: string): void {
  const phone = new WebPhone({ server: location.origin, extension, password, domain: sipDomain });
  state.phone = phone;
  const upsert = (call: WebPhoneCall) => {
    const view = state.calls.get(call.callId);
    if (view) view.call = call;
    else state.calls.set(call.callId, { call, ended: null, dtmfOpen: false });
    renderCalls();
  };
  phone.on('registered', () => setRegistration('registered', 'ok'));
  phone.on('unregistered', () => setRegistration('unregistered', 'idle'));
  phone.on('registration-failed', (event) =>
    setRegistration(`registration failed: ${event.cause}`, 'failed'),
  );
  phone.on('call-incoming', upsert);
  phone.on('call-in-progress', upsert);
  phone.on('call-connected', upsert);
  phone.on('call-updated', upsert);
  phone.on('call-ended', (event) => {
    const view = state.calls.get(event.callId);
    if (view) {
      view.call = event;
      view.ended = event;
    } else {
      state.calls.set(event.callId, { call: event, ended: event, dtmfOpen: false });
    }
    // Keep the ten most recent ended calls for their identifiers.
    const ended = [...state.calls.values()].filter((candidate) => candidate.ended);
    for (const old of ended.slice(0, Math.max(0, ended.length - 10))) state.calls.delete(old.call.callId);
    renderCalls();
    setTimeout(() => void loadRecent(), 800);
  });
  phone.on('error', (event) => showError(byId('softphone-error'), event.message));
  setRegistration('registering…', 'pending');
  phone
    .register()
    .catch((error: unknown) =>
      setRegistration(String(error instanceof Error ? error.message : error), 'failed'),
    );
}

function callAction(action: (phone: WebPhone) => void): void {
  const phone = state.phone;
  if (!phone) return;
  try {
    showError(byId('softphone-error'), null);
    action(phone);
  } catch (error) {
    showError(
      byId('softphone-error'),
      error instanceof WebPhoneError ? `${error.code}: ${error.message}` : String(error),
    );
  }
}

function idRow(label: string, value: string | null, testId: string): HTMLElement {
  return h(
    'div',
    { class: 'id-row' },
    h('span', { class: 'id-label' }, label),
    value
      ? h(
          'span',
          { class: 'id-value-wrap' },
          h('code', { class: 'id-value', 'data-testid': testId, title: value }, value),
          exploreButton(value),
        )
      : h('span', { class: 'id-pending muted', 'data-testid': testId }, 'pending…'),
  );
}

function exploreButton(value: string): HTMLButtonElement {
  const button = h('button', { type: 'button', class: 'icon-button', title: 'Explore this identifier' }, '⌕');
  button.addEventListener('click', () => explore(value));
  return button;
}

function stateLabel(view: CallView): string {
  if (view.ended) return `ended · ${view.ended.cause}${view.ended.reason ? ` (${view.ended.reason})` : ''}`;
  const { call } = view;
  const extras = [
    call.held ? 'on hold' : '',
    call.heldByRemote ? 'held by the other side' : '',
    call.muted ? 'muted' : '',
  ]
    .filter(Boolean)
    .join(', ');
  return extras ? `${call.state} · ${extras}` : call.state;
}

function renderCalls(): void {
  const container = byId('calls');
  container.replaceChildren();
  const views = [...state.calls.values()].reverse();
  if (views.length === 0) {
    container.append(h('p', { class: 'empty muted' }, 'No calls yet. Incoming calls ring here.'));
    return;
  }
  for (const view of views) {
    const { call } = view;
    const live = !view.ended;
    const buttons: HTMLElement[] = [];
    const button = (label: string, kind: string, action: (phone: WebPhone) => void, testId: string) => {
      const element = h(
        'button',
        { type: 'button', class: `button small ${kind}`, 'data-testid': testId },
        label,
      );
      element.addEventListener('click', () => callAction(action));
      buttons.push(element);
    };
    if (live && call.direction === 'inbound' && call.state === 'ringing') {
      button('Answer', 'success', (phone) => phone.answer(call.callId), 'answer');
      button('Reject', 'danger', (phone) => phone.reject(call.callId), 'reject');
    } else if (live) {
      if (call.state === 'connected') {
        button(
          call.held ? 'Resume' : 'Hold',
          'ghost',
          (phone) => (call.held ? phone.unhold(call.callId) : phone.hold(call.callId)),
          'hold',
        );
        button(
          call.muted ? 'Unmute' : 'Mute',
          'ghost',
          (phone) => (call.muted ? phone.unmute(call.callId) : phone.mute(call.callId)),
          'mute',
        );
        const keypad = h('button', { type: 'button', class: 'button small ghost' }, 'Keypad');
        keypad.addEventListener('click', () => {
          view.dtmfOpen = !view.dtmfOpen;
          renderCalls();
        });
        buttons.push(keypad);
      }
      button('Hang up', 'danger', (phone) => phone.hangup(call.callId), 'hangup');
    }
    const remote = call.remoteParty.displayName
      ? `${call.remoteParty.displayName} (${call.remoteParty.user})`
      : call.remoteParty.user;
    const card = h(
      'article',
      {
        class: `call-card ${live ? 'live' : 'ended'}`,
        'data-call-id': call.callId,
        'data-state': view.ended ? 'ended' : call.state,
      },
      h(
        'div',
        { class: 'call-head' },
        h('span', { class: `direction ${call.direction}` }, call.direction === 'inbound' ? 'in' : 'out'),
        h('span', { class: 'remote' }, remote || 'unknown'),
        call.queueName ? h('span', { class: 'badge queue' }, call.queueName) : null,
        h('span', { class: `badge state ${view.ended ? 'ended' : call.state}` }, stateLabel(view)),
      ),
      h(
        'div',
        { class: 'ids' },
        idRow('callId', call.callId, 'client-call-id'),
        idRow('serverSideCallId', call.serverSideCallId, 'server-side-call-id'),
        idRow('callLegId', call.callLegId, 'call-leg-id'),
      ),
      buttons.length > 0 ? h('div', { class: 'call-actions' }, ...buttons) : null,
      view.dtmfOpen && live ? keypadFor(call.callId) : null,
    );
    container.append(card);
  }
}

function keypadFor(callId: string): HTMLElement {
  const pad = h('div', { class: 'keypad' });
  for (const tone of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
    const key = h('button', { type: 'button', class: 'key' }, tone);
    key.addEventListener('click', () => callAction((phone) => phone.sendDtmf(callId, tone)));
    pad.append(key);
  }
  return pad;
}

// ---- recent calls ------------------------------------------------------------------------------------------

interface RecentRow {
  callId: string;
  startMs: number;
  title: string;
  result: string;
}

async function loadRecent(): Promise<void> {
  const rest = state.rest;
  if (!rest) return;
  const list = byId('recent-list');
  const now = Date.now();
  const window = {
    StartTime: new Date(now - 2 * 3_600_000).toISOString(),
    EndTime: new Date(now + 3_600_000).toISOString(),
  };
  try {
    const [events, services] = await Promise.all([
      rest.get<
        {
          CallId: string;
          TimeStamp: string;
          ANum: string;
          BNum: string;
          Result: string;
          CallTypeString: string;
          UserName: string;
        }[]
      >('/calls', window),
      rest.get<
        {
          CallId: string;
          ArrivalTime: string;
          ANum: string;
          BNum: string;
          Result: string | null;
          QueueName: string;
        }[]
      >('/servicecall', window),
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
    list.replaceChildren(
      h(
        'p',
        { class: 'muted small' },
        `Recent calls unavailable: ${String(error instanceof Error ? error.message : error)}`,
      ),
    );
  }
}

// ---- explorer ----------------------------------------------------------------------------------------------

function explore(identifier: string): void {
  byId<HTMLInputElement>('explore-input').value = identifier;
  void runExplore(identifier.trim(), true);
}

async function runExplore(identifier: string, fresh: boolean): Promise<void> {
  const rest = state.rest;
  if (!rest || identifier === '') return;
  const error = byId('explore-error');
  if (state.refreshTimer) clearTimeout(state.refreshTimer);
  state.refreshTimer = null;
  if (fresh) showError(error, null);
  state.lastQuery = identifier;
  try {
    const lookup = await rest.get<WireLookupResult>('/diagnostics/lookup', { id: identifier });
    const callIds = [...new Set(lookup.Matches.map((match) => match.CallId))];
    const maps = await Promise.all(
      callIds.map((callId) => rest.get<WireCallMap>(`/diagnostics/calls/${callId}`)),
    );
    if (state.lastQuery !== identifier) return;
    renderResult(identifier, lookup, maps);
    // Records are written as post-processing catches up: follow a call until it has ended and settled.
    const settling = maps.some((map) => map.EndTime === null || Date.now() - Date.parse(map.EndTime) < 4000);
    if (settling) state.refreshTimer = setTimeout(() => void runExplore(identifier, false), 1500);
  } catch (failure) {
    if (state.lastQuery !== identifier) return;
    const message =
      failure instanceof HttpError && failure.status === 404
        ? `Nothing you may see is identified by “${identifier}”.`
        : String(failure instanceof Error ? failure.message : failure);
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
};

function renderResult(query: string, lookup: WireLookupResult, maps: WireCallMap[]): void {
  const result = byId('result');
  result.hidden = false;
  result.replaceChildren();
  for (const map of maps) {
    const matches = lookup.Matches.filter((match) => match.CallId === map.CallId);
    result.append(renderCallMap(query, map, matches));
  }
}

function renderCallMap(query: string, map: WireCallMap, matches: WireLookupResult['Matches']): HTMLElement {
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
    h('div', { class: 'card' }, h('h3', {}, 'Legs and allocations'), renderLegs(query, map.Legs)),
    h('div', { class: 'card' }, h('h3', {}, 'Who was offered the call when'), renderSequence(map)),
    h(
      'div',
      { class: 'card' },
      h('h3', {}, `Records (${map.Records.length})`),
      renderRecords(query, map.Records),
    ),
  );
}

function idCell(value: string | null, query: string, testId?: string): HTMLElement {
  if (!value) return h('span', { class: 'muted' }, '—');
  return h(
    'code',
    { class: `id-value ${value === query ? 'hit' : ''}`, title: value, 'data-testid': testId },
    value,
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

function idLine(label: string, value: string | null, query: string, testId?: string): HTMLElement {
  return h(
    'div',
    { class: 'id-line' },
    h('span', { class: 'id-label' }, label),
    idCell(value, query, testId),
  );
}

function renderLegs(query: string, legs: WireLeg[]): HTMLElement {
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
        { 'data-leg-id': leg.CallLegId, 'data-role': leg.Role },
        h(
          'td',
          {},
          h('span', { class: `badge role ${leg.Role.toLowerCase()}` }, legRoleText(leg)),
          leg.QueueName ? h('div', { class: 'muted small' }, leg.QueueName) : null,
          h('div', { class: 'outcome-line' }, legOutcome(leg)),
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

// ---- sequence diagram --------------------------------------------------------------------------------------

const COLUMN = 170;
const ROW = 38;
const TOP = 58;
const GUTTER = 78;

function stepClass(step: WireTimelineStep): string {
  if (step.Kind === 'note') return 'note';
  if (/^INVITE/.test(step.Label)) return 'invite';
  if (/^(1\d\d)/.test(step.Label)) return 'provisional';
  if (/^2\d\d/.test(step.Label)) return 'ok';
  if (/^(BYE|CANCEL)/.test(step.Label)) return 'bye';
  if (/^[3-6]\d\d|no answer/.test(step.Label)) return 'fail';
  return 'other';
}

function renderSequence(map: WireCallMap): HTMLElement {
  const columns = new Map(map.Participants.map((participant, index) => [participant.Key, index]));
  const width = GUTTER + map.Participants.length * COLUMN + 20;
  const height = TOP + map.Timeline.length * ROW + 30;
  const svg = s('svg', {
    class: 'sequence',
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: 'img',
    'aria-label': 'Sequence diagram of the call',
    'data-testid': 'sequence',
  });
  const defs = s('defs');
  for (const kind of ['invite', 'provisional', 'ok', 'bye', 'fail', 'other']) {
    const marker = s('marker', {
      id: `arrow-${kind}`,
      viewBox: '0 0 10 10',
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse',
    });
    marker.append(s('path', { d: 'M0,0 L10,5 L0,10 z', class: `arrowhead ${kind}` }));
    defs.append(marker);
  }
  svg.append(defs);
  const x = (key: string) => GUTTER + (columns.get(key) ?? 0) * COLUMN + COLUMN / 2;
  map.Participants.forEach((participant, index) => {
    const cx = GUTTER + index * COLUMN + COLUMN / 2;
    svg.append(s('line', { x1: cx, y1: TOP - 8, x2: cx, y2: height - 10, class: 'lifeline' }));
    const actor = s('g', { class: 'actor-group', 'data-key': participant.Key });
    actor.append(s('title', {}, participant.Label));
    actor.append(
      s('rect', {
        x: cx - COLUMN / 2 + 8,
        y: 8,
        width: COLUMN - 16,
        height: 34,
        rx: 8,
        class: `actor ${participant.Kind}`,
      }),
    );
    const label = participant.Label.length > 22 ? `${participant.Label.slice(0, 21)}…` : participant.Label;
    actor.append(s('text', { x: cx, y: 30, class: 'actor-label', 'text-anchor': 'middle' }, label));
    svg.append(actor);
  });
  map.Timeline.forEach((step, index) => {
    const y = TOP + index * ROW + ROW / 2;
    svg.append(s('text', { x: 8, y: y + 4, class: 'offset' }, `+${(step.OffsetMs / 1000).toFixed(3)}s`));
    const kind = stepClass(step);
    const group = s('g', { class: `step ${kind}`, 'data-fact': step.Fact });
    if (step.Kind === 'note' || step.From === step.To) {
      const cx = x(step.From);
      const label = step.Detail ? `${step.Label} · ${step.Detail}` : step.Label;
      const boxWidth = Math.min(COLUMN * 1.6, 16 + label.length * 6.4);
      group.append(
        s('rect', { x: cx - boxWidth / 2, y: y - 12, width: boxWidth, height: 22, rx: 6, class: 'note-box' }),
      );
      group.append(s('text', { x: cx, y: y + 3, 'text-anchor': 'middle', class: 'note-label' }, label));
    } else {
      const x1 = x(step.From);
      const x2 = x(step.To);
      const direction = x2 > x1 ? 1 : -1;
      group.append(
        s('line', {
          x1: x1 + direction * 4,
          y1: y + 6,
          x2: x2 - direction * 4,
          y2: y + 6,
          class: 'arrow',
          'marker-end': `url(#arrow-${kind})`,
        }),
      );
      const label = step.Detail ? `${step.Label} (${step.Detail})` : step.Label;
      group.append(
        s('text', { x: (x1 + x2) / 2, y: y + 1, 'text-anchor': 'middle', class: 'arrow-label' }, label),
      );
    }
    const tooltip = `${clock(step.Time)} · ${step.Fact}${step.CallLegId ? ` · leg ${step.CallLegId}` : ''}`;
    group.append(s('title', {}, tooltip));
    svg.append(group);
  });
  return h('div', { class: 'sequence-wrap' }, svg);
}

// ---- wiring ------------------------------------------------------------------------------------------------

function wire(): void {
  byId<HTMLFormElement>('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const email = byId<HTMLInputElement>('signin-email').value.trim();
    const password = byId<HTMLInputElement>('signin-password').value;
    const submit = byId<HTMLButtonElement>('signin-submit');
    submit.disabled = true;
    showError(byId('signin-error'), null);
    signIn(email, password)
      .catch((error: unknown) =>
        showError(byId('signin-error'), error instanceof Error ? error.message : String(error)),
      )
      .finally(() => {
        submit.disabled = false;
      });
  });
  byId('sign-out').addEventListener('click', signOut);
  byId<HTMLFormElement>('dial-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const target = byId<HTMLInputElement>('dial-target').value.trim();
    const queue = byId<HTMLSelectElement>('dial-queue').value;
    if (!target) return;
    callAction((phone) => {
      const callId = phone.makeCall(target, queue ? { onBehalfOfQueue: queue } : {});
      // An outbound call's first event is its progress; show it from the start.
      const call = phone.calls().find((candidate) => candidate.callId === callId);
      if (call && !state.calls.has(callId)) state.calls.set(callId, { call, ended: null, dtmfOpen: false });
      renderCalls();
    });
  });
  byId<HTMLFormElement>('explore-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void runExplore(byId<HTMLInputElement>('explore-input').value.trim(), true);
  });
  byId('recent-refresh').addEventListener('click', () => void loadRecent());
  window.addEventListener('beforeunload', () => state.phone?.stop());
}

wire();
