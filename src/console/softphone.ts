/**
 * The softphone panel: a WebPhone registered as the signed-in user's extension, one card per
 * client session with its identifiers live, and the dial form.
 *
 * Naming: the SDK calls its per-call handle `callId` (SIP Call-ID + From tag, one per device and
 * call). In the console `callId` means the server's CallId (what the explorer and the REST API
 * know), so the SDK's handle is a `sessionId` here; it is read from the SDK's `callId` field and
 * passed back to the SDK's methods, whose API is unchanged. The card still labels it `callId`
 * because that is the name an integrator sees in the SDK.
 */
import { type CallEndedEvent, WebPhone, type WebPhoneCall, WebPhoneError } from '../webphone/webphone.js';
import type { MeWire, QueueWire, RestClient } from './api-client.js';
import { byId, errorText, h, showError } from './dom.js';

/** One client session as the panel shows it. */
interface SessionView {
  call: WebPhoneCall;
  ended: CallEndedEvent | null;
  dtmfOpen: boolean;
}

export interface SoftphoneOptions {
  extension: string;
  password: string;
  sipDomain: string;
  /** Open an identifier in the call explorer (each identifier on a card has a button for it). */
  onExplore(identifier: string): void;
  /** A call ended: its records are on their way (the recent-calls list may refresh). */
  onCallEnded(): void;
}

/** How many ended sessions stay listed for their identifiers. */
const ENDED_KEPT = 10;

// The page has one softphone: its state lives with the module.
let phone: WebPhone | null = null;
let onExplore: (identifier: string) => void = () => {};
/** Keyed by sessionId, in the order the sessions appeared. */
const sessions = new Map<string, SessionView>();

const sessionIdOf = (call: WebPhoneCall): string => call.callId;

function setRegistration(text: string, stateName: 'idle' | 'pending' | 'ok' | 'failed'): void {
  const pill = byId('registration');
  pill.textContent = text;
  pill.dataset.state = stateName;
}

export function startSoftphone(options: SoftphoneOptions): void {
  const { extension, password, sipDomain } = options;
  onExplore = options.onExplore;
  phone = new WebPhone({ server: location.origin, extension, password, domain: sipDomain });
  const upsert = (call: WebPhoneCall) => {
    const view = sessions.get(sessionIdOf(call));
    if (view) view.call = call;
    else sessions.set(sessionIdOf(call), { call, ended: null, dtmfOpen: false });
    renderSessions();
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
    const sessionId = sessionIdOf(event);
    const view = sessions.get(sessionId);
    if (view) {
      view.call = event;
      view.ended = event;
    } else {
      sessions.set(sessionId, { call: event, ended: event, dtmfOpen: false });
    }
    const ended = [...sessions.values()].filter((candidate) => candidate.ended);
    for (const old of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT)))
      sessions.delete(sessionIdOf(old.call));
    renderSessions();
    options.onCallEnded();
  });
  phone.on('error', (event) => showError(byId('softphone-error'), event.message));
  setRegistration('registering…', 'pending');
  phone.register().catch((error: unknown) => setRegistration(errorText(error), 'failed'));
}

export function stopSoftphone(): void {
  phone?.stop();
  phone = null;
  sessions.clear();
}

/** Only a queue's members may call on its behalf: offer those queues in the dial form. */
export async function loadQueueChoices(rest: RestClient, me: MeWire): Promise<void> {
  try {
    const queues = await rest.get<QueueWire[]>('/queues');
    const select = byId<HTMLSelectElement>('dial-queue');
    for (const queue of queues.filter((candidate) => candidate.MemberUserIds.includes(me.Id))) {
      select.append(h('option', { value: queue.Id }, `on behalf of ${queue.Name}`));
    }
  } catch {
    // The dial form works without the list.
  }
}

/** The dial form's submit: call `target`, optionally on behalf of `queueId` ('' = as myself). */
export function dial(target: string, queueId: string): void {
  if (!target) return;
  callAction((active) => {
    const sessionId = active.makeCall(target, queueId ? { onBehalfOfQueue: queueId } : {});
    // An outbound call's first event is its progress; show it from the start.
    const call = active.calls().find((candidate) => sessionIdOf(candidate) === sessionId);
    if (call && !sessions.has(sessionId)) sessions.set(sessionId, { call, ended: null, dtmfOpen: false });
    renderSessions();
  });
}

/** Run an SDK action; what it throws is shown in the panel's error line rather than lost. */
function callAction(action: (active: WebPhone) => void): void {
  const active = phone;
  if (!active) return;
  try {
    showError(byId('softphone-error'), null);
    action(active);
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
  button.addEventListener('click', () => onExplore(value));
  return button;
}

/**
 * What the card's state badge says. An outbound call a queue answered (queue audio) waits there:
 * "in queue Support — hearing greeting", then "… hearing music", until the agent's media takes over
 * and it is `connected` like any other call.
 */
function stateLabel(view: SessionView): string {
  if (view.ended) return `ended · ${view.ended.cause}${view.ended.reason ? ` (${view.ended.reason})` : ''}`;
  const { call } = view;
  const base = waitingInQueue(call) ? queueLabel(call) : call.state;
  const extras = [
    call.held ? 'on hold' : '',
    call.heldByRemote ? 'held by the other side' : '',
    call.muted ? 'muted' : '',
  ]
    .filter(Boolean)
    .join(', ');
  return extras ? `${base} · ${extras}` : base;
}

function queueLabel(call: WebPhoneCall): string {
  const name = call.queue?.queueName ?? call.queueName;
  return `${name ? `in queue ${name}` : 'in queue'} — hearing ${call.queue?.hearing ?? 'music'}`;
}

/** Answered by a queue that still plays its audio: no agent yet. */
const waitingInQueue = (call: WebPhoneCall): boolean => call.queue?.state === 'waiting';

/** The card's `data-state`: the SDK's call state, or `queued` while waiting in a queue. */
function cardState(view: SessionView): string {
  if (view.ended) return 'ended';
  return waitingInQueue(view.call) ? 'queued' : view.call.state;
}

function renderSessions(): void {
  const container = byId('calls');
  container.replaceChildren();
  const views = [...sessions.values()].reverse();
  if (views.length === 0) {
    container.append(h('p', { class: 'empty muted' }, 'No calls yet. Incoming calls ring here.'));
    return;
  }
  for (const view of views) container.append(sessionCard(view));
}

function sessionCard(view: SessionView): HTMLElement {
  const { call } = view;
  const sessionId = sessionIdOf(call);
  const live = !view.ended;
  const buttons: HTMLElement[] = [];
  const button = (label: string, kind: string, action: (active: WebPhone) => void, testId: string) => {
    const element = h(
      'button',
      { type: 'button', class: `button small ${kind}`, 'data-testid': testId },
      label,
    );
    element.addEventListener('click', () => callAction(action));
    buttons.push(element);
  };
  if (live && call.direction === 'inbound' && call.state === 'ringing') {
    button('Answer', 'success', (active) => active.answer(sessionId), 'answer');
    button('Reject', 'danger', (active) => active.reject(sessionId), 'reject');
  } else if (live) {
    if (call.state === 'connected') {
      button(
        call.held ? 'Resume' : 'Hold',
        'ghost',
        (active) => (call.held ? active.unhold(sessionId) : active.hold(sessionId)),
        'hold',
      );
      button(
        call.muted ? 'Unmute' : 'Mute',
        'ghost',
        (active) => (call.muted ? active.unmute(sessionId) : active.mute(sessionId)),
        'mute',
      );
      const keypad = h('button', { type: 'button', class: 'button small ghost' }, 'Keypad');
      keypad.addEventListener('click', () => {
        view.dtmfOpen = !view.dtmfOpen;
        renderSessions();
      });
      buttons.push(keypad);
    }
    button('Hang up', 'danger', (active) => active.hangup(sessionId), 'hangup');
  }
  const remote = call.remoteParty.displayName
    ? `${call.remoteParty.displayName} (${call.remoteParty.user})`
    : call.remoteParty.user;
  return h(
    'article',
    {
      class: `call-card ${live ? 'live' : 'ended'}`,
      'data-session-id': sessionId,
      'data-state': cardState(view),
      'data-hearing': waitingInQueue(call) ? (call.queue?.hearing ?? 'music') : undefined,
    },
    h(
      'div',
      { class: 'call-head' },
      h('span', { class: `direction ${call.direction}` }, call.direction === 'inbound' ? 'in' : 'out'),
      h('span', { class: 'remote' }, remote || 'unknown'),
      call.queueName ? h('span', { class: 'badge queue' }, call.queueName) : null,
      h('span', { class: `badge state ${cardState(view)}`, 'data-testid': 'call-state' }, stateLabel(view)),
    ),
    h(
      'div',
      { class: 'ids' },
      // Labelled with the SDK's field names: what an integrator reads in their own events.
      idRow('callId', sessionId, 'client-call-id'),
      idRow('serverSideCallId', call.serverSideCallId, 'server-side-call-id'),
      idRow('callLegId', call.callLegId, 'call-leg-id'),
    ),
    buttons.length > 0 ? h('div', { class: 'call-actions' }, ...buttons) : null,
    view.dtmfOpen && live ? keypadFor(sessionId) : null,
  );
}

function keypadFor(sessionId: string): HTMLElement {
  const pad = h('div', { class: 'keypad' });
  for (const tone of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
    const key = h('button', { type: 'button', class: 'key' }, tone);
    key.addEventListener('click', () => callAction((active) => active.sendDtmf(sessionId, tone)));
    pad.append(key);
  }
  return pad;
}
