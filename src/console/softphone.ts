/**
 * The softphone panel: a WebPhone registered as the signed-in user's extension, one card per
 * client session with its identifiers live, and the dial form.
 *
 * Naming: the SDK calls its per-call handle `callId` (SIP Call-ID + From tag, one per device and
 * call). In the console `callId` means the server's CallId (what the explorer and the REST API
 * know), so the SDK's handle is a `sessionId` here; it is read from the SDK's `callId` field and
 * passed back to the SDK's methods, whose API is unchanged. The card still labels it `callId`
 * because that is the name an integrator sees in the SDK.
 *
 * Transfers: a connected call has Transfer (blind: a target typed in the card) and
 * Attended transfer (join it with another connected call of the softphone, picked in the card);
 * the card shows the SDK's transfer events as they come (progress, completed, failed).
 */
import {
  type CallEndedEvent,
  type TransferEvent,
  type TransferKind,
  WebPhone,
  type WebPhoneCall,
  WebPhoneError,
} from '../webphone/webphone.js';
import type { MeWire, QueueWire, RestClient } from './api-client.js';
import { byId, errorText, h, showError } from './dom.js';

/** One client session as the panel shows it. */
interface SessionView {
  call: WebPhoneCall;
  ended: CallEndedEvent | null;
  dtmfOpen: boolean;
  /** The transfer form open on the card: a target to type (blind) or the other call to pick. */
  transferForm: TransferKind | null;
  /** What was typed in the blind transfer's target field (kept across re-renders). */
  transferDraft: string;
  /** The session's latest transfer, as the SDK reported it. */
  transfer: TransferView | null;
}

/** A transfer the user asked for, and how far it got. */
interface TransferView {
  kind: TransferKind;
  /** What the user typed (blind) or the other party, until the SDK names the Refer-To URI. */
  target: string;
  outcome: 'pending' | 'completed' | 'failed';
  /** The last status line reported (NOTIFY sipfrag or the REFER's refusal), if any. */
  status: number | null;
  reason: string | null;
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
    else sessions.set(sessionIdOf(call), newView(call));
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
      sessions.set(sessionId, { ...newView(event), ended: event });
    }
    const ended = [...sessions.values()].filter((candidate) => candidate.ended);
    for (const old of ended.slice(0, Math.max(0, ended.length - ENDED_KEPT)))
      sessions.delete(sessionIdOf(old.call));
    renderSessions();
    options.onCallEnded();
  });
  phone.on('transfer-progress', (event) => transferReported(event, 'pending'));
  phone.on('transfer-completed', (event) => transferReported(event, 'completed'));
  phone.on('transfer-failed', (event) => transferReported(event, 'failed'));
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
    if (call && !sessions.has(sessionId)) sessions.set(sessionId, newView(call));
    renderSessions();
  });
}

const newView = (call: WebPhoneCall): SessionView => ({
  call,
  ended: null,
  dtmfOpen: false,
  transferForm: null,
  transferDraft: '',
  transfer: null,
});

/** A transfer event of the SDK: the card of the transferred session shows it. */
function transferReported(event: TransferEvent, outcome: TransferView['outcome']): void {
  const view = sessions.get(event.callId);
  if (!view) return;
  view.transfer = {
    kind: event.kind,
    target: event.target,
    outcome,
    status: event.status,
    reason: event.reason,
  };
  renderSessions();
}

/** Ask the SDK for a transfer of `sessionId`; the card shows it as pending until the SDK reports. */
function startTransfer(view: SessionView, kind: TransferKind, to: string): void {
  const sessionId = sessionIdOf(view.call);
  callAction((active) => {
    if (kind === 'blind') active.transfer(sessionId, to);
    else active.attendedTransfer(sessionId, to);
    const other = kind === 'attended' ? sessions.get(to)?.call.remoteParty.user : undefined;
    view.transfer = { kind, target: other ?? to, outcome: 'pending', status: null, reason: null };
    view.transferForm = null;
    view.transferDraft = '';
  });
  renderSessions();
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
      if (transferable(view)) {
        const pending = view.transfer?.outcome === 'pending';
        const toggle = (kind: TransferKind, label: string, testId: string, disabled: boolean) => {
          const element = h(
            'button',
            {
              type: 'button',
              class: `button small ghost ${view.transferForm === kind ? 'active' : ''}`,
              'data-testid': testId,
              'aria-expanded': view.transferForm === kind ? 'true' : 'false',
              disabled,
            },
            label,
          );
          element.addEventListener('click', () => {
            view.transferForm = view.transferForm === kind ? null : kind;
            renderSessions();
            if (view.transferForm === 'blind') focusTransferTarget(sessionId);
          });
          buttons.push(element);
        };
        toggle('blind', 'Transfer', 'transfer', pending);
        toggle(
          'attended',
          'Attended transfer',
          'attended-transfer',
          pending || otherConnected(sessionId).length === 0,
        );
      }
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
    live && view.transferForm === 'blind' && transferable(view) ? blindTransferForm(view) : null,
    live && view.transferForm === 'attended' && transferable(view) ? attendedTransferForm(view) : null,
    view.transfer ? transferStatus(view.transfer) : null,
    view.dtmfOpen && live ? keypadFor(sessionId) : null,
  );
}

/**
 * Either party of a connected call may transfer it (DESIGN.md §10) — but not while it waits in a
 * queue: then nobody has answered it yet.
 */
const transferable = (view: SessionView): boolean =>
  !view.ended && view.call.state === 'connected' && !waitingInQueue(view.call);

/** The softphone's other connected calls: what an attended transfer can join `sessionId` with. */
function otherConnected(sessionId: string): SessionView[] {
  return [...sessions.values()].filter(
    (candidate) =>
      !candidate.ended && candidate.call.state === 'connected' && sessionIdOf(candidate.call) !== sessionId,
  );
}

function focusTransferTarget(sessionId: string): void {
  const card = document.querySelector(`.call-card[data-session-id="${CSS.escape(sessionId)}"]`);
  card?.querySelector<HTMLInputElement>('[data-testid="transfer-target"]')?.focus();
}

/** Blind transfer: the target (extension, number, queue or SIP URI) and a submit button. */
function blindTransferForm(view: SessionView): HTMLElement {
  const input = h('input', {
    type: 'text',
    class: 'transfer-target',
    'data-testid': 'transfer-target',
    placeholder: 'Transfer to: extension, number or queue',
    'aria-label': 'Transfer to',
    autocomplete: 'off',
    value: view.transferDraft,
  });
  input.addEventListener('input', () => {
    view.transferDraft = input.value;
  });
  const form = h(
    'form',
    { class: 'transfer-form', 'data-kind': 'blind' },
    input,
    h(
      'button',
      { type: 'submit', class: 'button small primary', 'data-testid': 'transfer-submit' },
      'Transfer',
    ),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const target = input.value.trim();
    if (target) startTransfer(view, 'blind', target);
  });
  return form;
}

/** Attended transfer: which other call's party takes this call, and a submit button. */
function attendedTransferForm(view: SessionView): HTMLElement {
  const select = h('select', { 'data-testid': 'transfer-other', 'aria-label': 'Join with' });
  for (const other of otherConnected(sessionIdOf(view.call))) {
    const { remoteParty } = other.call;
    const who = remoteParty.displayName
      ? `${remoteParty.displayName} (${remoteParty.user})`
      : remoteParty.user;
    select.append(
      h(
        'option',
        { value: sessionIdOf(other.call) },
        `${who} — ${other.call.direction === 'inbound' ? 'incoming' : 'outgoing'} call${other.call.held ? ', on hold' : ''}`,
      ),
    );
  }
  const form = h(
    'form',
    { class: 'transfer-form', 'data-kind': 'attended' },
    select,
    h('button', { type: 'submit', class: 'button small primary', 'data-testid': 'attended-submit' }, 'Join'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (select.value) startTransfer(view, 'attended', select.value);
  });
  return form;
}

/** What became of the session's transfer: pending with the last NOTIFY, completed or failed. */
function transferStatus(transfer: TransferView): HTMLElement {
  const line = [transfer.status, transfer.reason].filter((part) => part !== null && part !== '').join(' ');
  const text =
    transfer.outcome === 'completed'
      ? `transferred to ${transfer.target}`
      : transfer.outcome === 'failed'
        ? `transfer to ${transfer.target} failed${line ? `: ${line}` : ''}`
        : `transferring to ${transfer.target}${line ? `: ${line}` : '…'}`;
  return h(
    'p',
    {
      class: `transfer-status ${transfer.outcome}`,
      'data-testid': 'transfer-status',
      'data-outcome': transfer.outcome,
      'data-kind': transfer.kind,
      role: 'status',
    },
    text,
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
