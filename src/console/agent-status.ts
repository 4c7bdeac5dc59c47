/**
 * The softphone's status switcher (DESIGN.md §11): the signed-in user's availability (Available,
 * Busy, Do not disturb, Off work, with a note and an optional "until"), a switch per queue they
 * are a member of (serving it or not), and their wrap-up with "End wrap-up now". Everything goes
 * through the REST API with the console's own credentials — `GET`/`POST /users/{id}/availability`,
 * `/users/{id}/queues`, `/users/{id}/wrapup` and `/wrapup/end` — and is re-read every few seconds,
 * so that an EndTime that passes, a wrap-up that starts after a call or a change an admin makes
 * shows without a reload.
 */
import type { AvailabilityWire, MeWire, RestClient, UserQueueWire, WrapUpWire } from './api-client.js';
import { byId, errorText, h, showError } from './dom.js';

const REFRESH_MS = 5000;

const LABELS: Record<AvailabilityWire['Availability'], string> = {
  Available: 'Available',
  Busy: 'Busy',
  DoNotDisturb: 'Do not disturb',
  OffWork: 'Off work',
};

let timer: ReturnType<typeof setInterval> | null = null;
let client: RestClient | null = null;
let userId = '';

export function startAgentStatus(rest: RestClient, me: MeWire): void {
  client = rest;
  userId = me.Id;
  byId('agent-status').hidden = false;
  byId<HTMLFormElement>('availability-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void setAvailability();
  });
  byId('wrapup-end').addEventListener('click', () => void endWrapUp());
  void refresh();
  timer = setInterval(() => void refresh(), REFRESH_MS);
}

export function stopAgentStatus(): void {
  if (timer) clearInterval(timer);
  timer = null;
  client = null;
}

const path = (rest: string): string => `/users/${userId}/${rest}`;
const errorLine = (): HTMLElement => byId('agent-status-error');

async function refresh(): Promise<void> {
  const rest = client;
  if (!rest) return;
  try {
    const [availability, queues, wrapUp] = await Promise.all([
      rest.get<AvailabilityWire>(path('availability')),
      rest.get<UserQueueWire[]>(path('queues')),
      rest.get<WrapUpWire>(path('wrapup')),
    ]);
    renderAvailability(availability);
    renderQueues(queues);
    renderWrapUp(wrapUp);
  } catch (error) {
    showError(errorLine(), errorText(error));
  }
}

/** The current state line; the form keeps what the user is typing unless the state changed elsewhere. */
let shown: string | null = null;

function renderAvailability(state: AvailabilityWire): void {
  const current = byId('availability-current');
  current.dataset.availability = state.Availability;
  const until = state.EndTime ? ` until ${new Date(state.EndTime).toLocaleString()}` : '';
  const note = state.Note ? ` — ${state.Note}` : '';
  current.textContent = `${LABELS[state.Availability]}${until}${note}`;
  const key = `${state.Availability}|${state.Modified ?? ''}`;
  if (key !== shown) {
    shown = key;
    byId<HTMLSelectElement>('availability-select').value = state.Availability;
    byId<HTMLInputElement>('availability-note').value = state.Note ?? '';
    byId<HTMLInputElement>('availability-until').value = state.EndTime ? localInputValue(state.EndTime) : '';
  }
}

function renderQueues(queues: UserQueueWire[]): void {
  const list = byId('serving-list');
  list.replaceChildren(
    ...(queues.length === 0
      ? [h('p', { class: 'muted small' }, 'Not a member of any queue.')]
      : queues.map((queue) => {
          const box = h('input', {
            type: 'checkbox',
            checked: queue.Serving,
            'data-queue-id': queue.QueueId,
            'data-testid': 'serving-toggle',
          });
          box.addEventListener('change', () => void setServing(queue.QueueId, box.checked, box));
          return h('label', { class: 'serving-item' }, box, ` serving ${queue.QueueName}`);
        })),
  );
}

function renderWrapUp(wrapUp: WrapUpWire): void {
  const line = byId('wrapup-state');
  line.dataset.inWrapUp = String(wrapUp.InWrapUp);
  line.textContent = wrapUp.InWrapUp
    ? `In wrap-up until ${new Date(wrapUp.EndTime ?? Date.now()).toLocaleTimeString()}`
    : 'Not in wrap-up';
  byId<HTMLButtonElement>('wrapup-end').disabled = !wrapUp.InWrapUp;
}

async function setAvailability(): Promise<void> {
  const rest = client;
  if (!rest) return;
  const availability = byId<HTMLSelectElement>('availability-select').value;
  const note = byId<HTMLInputElement>('availability-note').value.trim();
  const until = byId<HTMLInputElement>('availability-until').value;
  const body: Record<string, string> = { Availability: availability };
  if (note) body.Note = note;
  if (until && availability !== 'Available') body.EndTime = new Date(until).toISOString();
  try {
    showError(errorLine(), null);
    renderAvailability(await rest.post<AvailabilityWire>(path('availability'), body));
  } catch (error) {
    showError(errorLine(), errorText(error));
  }
}

async function setServing(queueId: string, serving: boolean, box: HTMLInputElement): Promise<void> {
  const rest = client;
  if (!rest) return;
  box.disabled = true;
  try {
    showError(errorLine(), null);
    renderQueues(await rest.post<UserQueueWire[]>(path('queues'), { QueueId: queueId, Serving: serving }));
  } catch (error) {
    box.checked = !serving;
    box.disabled = false;
    showError(errorLine(), errorText(error));
  }
}

async function endWrapUp(): Promise<void> {
  const rest = client;
  if (!rest) return;
  try {
    showError(errorLine(), null);
    renderWrapUp(await rest.post<WrapUpWire>(path('wrapup/end'), {}));
  } catch (error) {
    showError(errorLine(), errorText(error));
  }
}

/** An ISO time as a `datetime-local` input shows it: local wall clock, to the minute. */
function localInputValue(iso: string): string {
  const date = new Date(iso);
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
