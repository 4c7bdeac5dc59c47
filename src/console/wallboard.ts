/**
 * The wallboard (issue 17): per queue the callers waiting and the longest wait (ticking locally),
 * per agent (the queues' members) availability and current call, and two plots for today — calls
 * per hour and the share answered within 20 s. Initial state from REST once (`GET /queues`,
 * `/users`, `/users/{id}/availability`, `/servicecall` for today), then kept current by the RTE
 * hub's events (rte-client.ts) — no polling.
 */
import type { AvailabilityWire, MeWire, RestClient } from './api-client.js';
import { byId, errorText, h, s } from './dom.js';
import { RteClient, type RteEvent, type RteState } from './rte-client.js';

/** "Answered within 20 s": the service level the second plot shows. */
const SERVICE_LEVEL_S = 20;
const TICK_MS = 1000;

interface QueueWithStatus {
  Id: string;
  Name: string;
  MemberUserIds: string[];
  Status: { QueueLength: number; MaxWaitTime: number; OngoingCalls: number };
}

interface UserWire {
  Id: string;
  UserName: string;
  DisplayName: string | null;
  Extension: string;
}

interface ServiceCallToday {
  CallId: string;
  QueueId: string;
  ArrivalTime: string;
  AnswerTime: string | null;
}

interface QueueRow {
  id: string;
  name: string;
  waiting: number;
  /** When the longest-waiting caller arrived (server time), null when nobody waits. */
  oldestMs: number | null;
  connected: number;
}

interface AgentCall {
  state: 'ringing' | 'connected' | 'outgoing';
  callLegId: string | null;
  number: string;
  queueName: string | null;
  sinceMs: number;
}

interface AgentRow {
  id: string;
  name: string;
  extension: string;
  availability: string;
  call: AgentCall | null;
}

interface TodayCall {
  arrivalMs: number;
  answerMs: number | null;
}

let started = false;
let client: RteClient | null = null;
let ticker: ReturnType<typeof setInterval> | undefined;
const queues = new Map<string, QueueRow>();
const agents = new Map<string, AgentRow>();
/** Today's queue calls by `callId queueId` (a call that visits two queues counts in each). */
const today = new Map<string, TodayCall>();
/** Events that arrived before the initial REST state was applied. */
let held: RteEvent[] | null = [];

/** Open the wallboard (first time: load, connect to the hub). */
export function showWallboard(rest: RestClient, me: MeWire): void {
  if (started) return;
  started = true;
  void start(rest, me).catch((error: unknown) => setState('closed', errorText(error)));
  ticker = setInterval(renderQueues, TICK_MS);
}

export function stopWallboard(): void {
  client?.stop();
  clearInterval(ticker);
}

async function start(rest: RestClient, me: MeWire): Promise<void> {
  const [queueList, users] = await Promise.all([
    rest.get<QueueWithStatus[]>('/queues'),
    rest.get<UserWire[]>('/users').catch(() => [] as UserWire[]),
  ]);
  const userById = new Map(users.map((user) => [user.Id, user]));
  const loadedAt = Date.now();
  for (const queue of queueList) {
    queues.set(queue.Id, {
      id: queue.Id,
      name: queue.Name,
      waiting: queue.Status.QueueLength,
      oldestMs: queue.Status.QueueLength > 0 ? loadedAt - queue.Status.MaxWaitTime * 1000 : null,
      connected: queue.Status.OngoingCalls,
    });
    for (const userId of queue.MemberUserIds) {
      if (agents.has(userId)) continue;
      const user = userById.get(userId);
      agents.set(userId, {
        id: userId,
        name: user ? (user.DisplayName ?? user.UserName) : userId,
        extension: user?.Extension ?? '',
        availability: 'Unknown',
        call: null,
      });
    }
  }
  renderAll();

  // Only the queues and agents whose events the user may see (an admin: all) stay on the board.
  client = new RteClient(rest, me.Id, onEvent, setState);
  const subscribed = await client.start((available) => {
    const permitted = new Set(available.map((entry) => entry.EntityId));
    return [...queues.keys(), ...agents.keys()]
      .filter((id) => permitted.has(id))
      .map((id) => ({ EntityId: id, EventName: '*' }));
  });
  const live = new Set(subscribed.map((entry) => entry.EntityId));
  for (const id of [...queues.keys()]) if (!live.has(id)) queues.delete(id);
  for (const id of [...agents.keys()]) if (!live.has(id)) agents.delete(id);
  renderAll();

  // The initial state the hub's events then keep current.
  const midnight = new Date();
  midnight.setHours(0, 0, 0, 0);
  const [availabilities, calls] = await Promise.all([
    Promise.all(
      [...agents.keys()].map((id) =>
        rest.get<AvailabilityWire>(`/users/${encodeURIComponent(id)}/availability`).catch(() => null),
      ),
    ),
    rest
      .get<ServiceCallToday[]>('/servicecall', {
        StartTime: midnight.toISOString(),
        EndTime: new Date(Date.now() + 3_600_000).toISOString(),
      })
      .catch(() => [] as ServiceCallToday[]),
  ]);
  for (const availability of availabilities) {
    const agent = availability && agents.get(availability.UserId);
    if (agent) agent.availability = availability.Availability;
  }
  for (const call of calls) {
    const key = `${call.CallId} ${call.QueueId}`;
    const known = today.get(key);
    today.set(key, {
      arrivalMs: Date.parse(call.ArrivalTime),
      answerMs: call.AnswerTime ? Date.parse(call.AnswerTime) : (known?.answerMs ?? null),
    });
  }
  const pending = held ?? [];
  held = null;
  for (const event of pending) apply(event);
  renderAll();
}

function onEvent(event: RteEvent): void {
  if (held) {
    held.push(event);
    return;
  }
  apply(event);
  renderAll();
}

function apply(event: RteEvent): void {
  const atMs = Date.parse(event.timestamp);
  const text = (field: string): string | null => {
    const value = event[field];
    return typeof value === 'string' ? value : null;
  };
  const agent = agents.get(event.entityId);
  switch (event.eventName) {
    case 'QueueStatus': {
      const queue = queues.get(event.entityId);
      if (!queue) return;
      const waiting = Number(event.queueLength ?? 0);
      queue.waiting = waiting;
      queue.oldestMs = waiting > 0 ? atMs - Number(event.maxWaitTime ?? 0) * 1000 : null;
      queue.connected = Number(event.connectedCalls ?? 0);
      return;
    }
    case 'QueueCallInArrived': {
      const key = `${text('callId')} ${event.entityId}`;
      if (!today.has(key) && isToday(atMs)) today.set(key, { arrivalMs: atMs, answerMs: null });
      return;
    }
    case 'QueueCallInUserConnected': {
      const call = today.get(`${text('callId')} ${event.entityId}`);
      if (call && call.answerMs === null) call.answerMs = atMs;
      return;
    }
    case 'UserAvailability':
      if (agent) agent.availability = text('availability') ?? agent.availability;
      return;
    case 'UserCallInComing':
      if (agent)
        agent.call = {
          state: 'ringing',
          callLegId: text('callLegId'),
          number: text('callerNumber') ?? '',
          queueName: text('queueName'),
          sinceMs: atMs,
        };
      return;
    case 'UserCallOutGoing':
      if (agent)
        agent.call = {
          state: 'outgoing',
          callLegId: text('callLegId'),
          number: text('targetNumber') ?? '',
          queueName: text('queueName'),
          sinceMs: atMs,
        };
      return;
    case 'UserCallInConnected':
      if (agent)
        agent.call = {
          state: 'connected',
          callLegId: text('callLegId'),
          number: text('callerNumber') ?? agent.call?.number ?? '',
          queueName: text('queueName'),
          sinceMs: atMs,
        };
      return;
    case 'UserCallDisconnected':
      if (agent?.call && (agent.call.callLegId === null || agent.call.callLegId === text('callLegId')))
        agent.call = null;
      return;
    default:
      return;
  }
}

function isToday(ms: number): boolean {
  return new Date(ms).toDateString() === new Date().toDateString();
}

function setState(state: RteState, detail?: string): void {
  const pill = byId('wallboard-hub');
  pill.dataset.state = state === 'connected' ? 'ok' : state === 'closed' ? 'failed' : 'pending';
  pill.dataset.hub = state;
  pill.textContent = `hub: ${state}${detail ? ` — ${detail}` : ''}`;
}

function renderAll(): void {
  renderQueues();
  renderAgents();
  renderPlots();
}

function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  return `${m}:${String(seconds % 60).padStart(2, '0')}`;
}

function renderQueues(): void {
  const now = Date.now();
  const rows = [...queues.values()].map((queue) => {
    const longest = queue.oldestMs === null ? 0 : Math.max(0, Math.floor((now - queue.oldestMs) / 1000));
    return h(
      'tr',
      {
        'data-testid': 'wallboard-queue',
        'data-queue-id': queue.id,
        'data-queue-name': queue.name,
        'data-waiting': String(queue.waiting),
        'data-longest-wait': String(longest),
        'data-connected': String(queue.connected),
      },
      h('td', {}, queue.name),
      h('td', { class: `num${queue.waiting > 0 ? ' hot' : ''}` }, String(queue.waiting)),
      h('td', { class: 'num' }, queue.waiting > 0 ? duration(longest) : '—'),
      h('td', { class: 'num' }, String(queue.connected)),
    );
  });
  byId('wallboard-queues').replaceChildren(
    rows.length === 0
      ? h('p', { class: 'muted small' }, 'No queue whose calls you may see.')
      : h(
          'table',
          { class: 'wallboard-table' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', {}, 'Queue'),
              h('th', {}, 'Waiting'),
              h('th', {}, 'Longest wait'),
              h('th', {}, 'Connected'),
            ),
          ),
          h('tbody', {}, ...rows),
        ),
  );
}

const CALL_TEXT: Record<AgentCall['state'], string> = {
  ringing: 'ringing',
  connected: 'connected',
  outgoing: 'calling',
};

function renderAgents(): void {
  const rows = [...agents.values()].map((agent) => {
    const call = agent.call;
    return h(
      'tr',
      {
        'data-testid': 'wallboard-agent',
        'data-user-id': agent.id,
        'data-availability': agent.availability,
        'data-call-state': call?.state ?? 'idle',
        'data-call-number': call?.number,
      },
      h(
        'td',
        {},
        agent.name,
        agent.extension ? h('span', { class: 'muted small' }, ` · ${agent.extension}`) : null,
      ),
      h(
        'td',
        {},
        h('span', { class: 'availability-dot', 'data-availability': agent.availability }, agent.availability),
      ),
      h(
        'td',
        {},
        call
          ? h(
              'span',
              { class: 'badge', 'data-call-state': call.state },
              `${CALL_TEXT[call.state]} ${call.state === 'outgoing' ? '→' : '←'} ${call.number}${call.queueName ? ` (${call.queueName})` : ''}`,
            )
          : h('span', { class: 'muted' }, 'no call'),
      ),
    );
  });
  byId('wallboard-agents').replaceChildren(
    rows.length === 0
      ? h('p', { class: 'muted small' }, 'No agent whose calls you may see.')
      : h(
          'table',
          { class: 'wallboard-table' },
          h(
            'thead',
            {},
            h('tr', {}, h('th', {}, 'Agent'), h('th', {}, 'Availability'), h('th', {}, 'Current call')),
          ),
          h('tbody', {}, ...rows),
        ),
  );
}

interface HourBucket {
  calls: number;
  within: number;
}

function buckets(): HourBucket[] {
  const hours = Array.from({ length: 24 }, () => ({ calls: 0, within: 0 }));
  for (const call of today.values()) {
    if (!isToday(call.arrivalMs)) continue;
    const bucket = hours[new Date(call.arrivalMs).getHours()]!;
    bucket.calls += 1;
    if (call.answerMs !== null && call.answerMs - call.arrivalMs <= SERVICE_LEVEL_S * 1000)
      bucket.within += 1;
  }
  return hours;
}

const W = 480;
const H = 160;
const PAD = { left: 34, right: 8, top: 10, bottom: 22 };

/** A 24-bar chart; `value(hour)` in [0, max]; each bar carries its data-* attributes. */
function barChart(
  testId: string,
  label: string,
  max: number,
  value: (hour: number) => number,
  attrs: (hour: number) => Record<string, string | number>,
  tick: (v: number) => string,
): SVGSVGElement {
  const svg = s('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'wallboard-plot',
    role: 'img',
    'aria-label': label,
    'data-testid': testId,
  });
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const barW = plotW / 24;
  for (const fraction of [0, 0.5, 1]) {
    const y = PAD.top + plotH * (1 - fraction);
    svg.append(
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: y, y2: y, class: 'grid' }),
      s('text', { x: PAD.left - 4, y: y + 3, 'text-anchor': 'end', class: 'axis' }, tick(max * fraction)),
    );
  }
  for (let hour = 0; hour < 24; hour++) {
    const v = value(hour);
    const barH = max > 0 ? (plotH * v) / max : 0;
    const x = PAD.left + hour * barW;
    svg.append(
      s('rect', {
        x: x + 1.5,
        y: PAD.top + plotH - barH,
        width: barW - 3,
        height: barH,
        class: 'bar',
        'data-hour': hour,
        ...attrs(hour),
      }),
    );
    if (hour % 3 === 0)
      svg.append(
        s('text', { x: x + barW / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' }, String(hour)),
      );
  }
  return svg;
}

function renderPlots(): void {
  const hours = buckets();
  const total = hours.reduce((sum, bucket) => sum + bucket.calls, 0);
  const within = hours.reduce((sum, bucket) => sum + bucket.within, 0);
  const maxCalls = Math.max(4, ...hours.map((bucket) => bucket.calls));
  const calls = barChart(
    'plot-calls-per-hour',
    `Queue calls per hour today: ${total} in all`,
    maxCalls,
    (hour) => hours[hour]!.calls,
    (hour) => ({ 'data-calls': hours[hour]!.calls }),
    (v) => String(Math.round(v)),
  );
  calls.dataset.total = String(total);
  const share = (bucket: HourBucket): number => (bucket.calls > 0 ? bucket.within / bucket.calls : 0);
  const level = barChart(
    'plot-answered-20s',
    `Share of queue calls answered within ${SERVICE_LEVEL_S} s, per hour today: ${within} of ${total}`,
    1,
    (hour) => share(hours[hour]!),
    (hour) => ({
      'data-calls': hours[hour]!.calls,
      'data-answered-20s': hours[hour]!.within,
      'data-share': Math.round(share(hours[hour]!) * 100),
    }),
    (v) => `${Math.round(v * 100)}%`,
  );
  level.dataset.total = String(total);
  level.dataset.answered20s = String(within);
  byId('wallboard-plots').replaceChildren(
    h(
      'figure',
      {},
      h('figcaption', { class: 'label' }, `Calls per hour today (${total})`),
      calls as unknown as Node,
    ),
    h(
      'figure',
      {},
      h(
        'figcaption',
        { class: 'label' },
        `Answered within ${SERVICE_LEVEL_S} s (${total > 0 ? Math.round((100 * within) / total) : 0}% today)`,
      ),
      level as unknown as Node,
    ),
  );
}
