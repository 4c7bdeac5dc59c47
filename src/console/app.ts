/**
 * The Switchboard web console — the entry point of its script (bundled with the webphone SDK):
 * sign in with REST credentials, then start the softphone panel (softphone.ts) and the call
 * explorer (explorer.ts, with its sequence diagram in diagram.ts) and wire the page's forms to
 * them. Plain DOM, no framework.
 */
import { startAgentStatus, stopAgentStatus } from './agent-status.js';
import { type MeWire, RestClient } from './api-client.js';
import { byId, errorText, showError } from './dom.js';
import { connectExplorer, explore, loadRecent, runExplore } from './explorer.js';
import { dial, loadQueueChoices, startSoftphone, stopSoftphone } from './softphone.js';
import { showWallboard, stopWallboard } from './wallboard.js';

/** A call's records are written as post-processing catches up: refresh the recent list a little later. */
const RECENT_AFTER_CALL_MS = 800;

const sipDomain =
  document.querySelector<HTMLMetaElement>('meta[name="switchboard-sip-domain"]')?.content ||
  location.hostname;

function sessionText(me: MeWire): string {
  return `${me.DisplayName ?? me.UserName} · ${me.UserName} · ext ${me.Extension}${me.Role === 'Admin' ? ' · admin' : ''}`;
}

/** The signed-in session, for views opened later (the wallboard). */
let signedIn: { rest: RestClient; me: MeWire } | null = null;

/** Calls (softphone and explorer) or the wallboard; the softphone keeps running while hidden. */
function showView(view: 'calls' | 'wallboard'): void {
  byId('workspace').dataset.view = view;
  byId('softphone').hidden = view !== 'calls';
  byId('explorer').hidden = view !== 'calls';
  byId('wallboard').hidden = view !== 'wallboard';
  byId('tab-calls').setAttribute('aria-selected', String(view === 'calls'));
  byId('tab-wallboard').setAttribute('aria-selected', String(view === 'wallboard'));
  if (view === 'wallboard' && signedIn) showWallboard(signedIn.rest, signedIn.me);
}

async function signIn(email: string, password: string): Promise<void> {
  const rest = await RestClient.signIn(email, password);
  const me = await rest.get<MeWire>('/users/me');
  connectExplorer(rest);
  byId('signin').hidden = true;
  byId('workspace').hidden = false;
  byId('session').hidden = false;
  byId('session-user').textContent = sessionText(me);
  byId('softphone-identity').textContent = `sip:${me.Extension}@${sipDomain}`;
  void loadQueueChoices(rest, me);
  startAgentStatus(rest, me);
  signedIn = { rest, me };
  void loadRecent();
  // The softphone registers with the same password: a user's SIP and REST credentials are one.
  startSoftphone({
    extension: me.Extension,
    password,
    sipDomain,
    onExplore: explore,
    onCallEnded: () => setTimeout(() => void loadRecent(), RECENT_AFTER_CALL_MS),
  });
}

/** Nothing is kept in the browser: reloading forgets the credentials. */
function signOut(): void {
  stopAgentStatus();
  stopWallboard();
  stopSoftphone();
  location.reload();
}

function wire(): void {
  byId<HTMLFormElement>('signin-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const email = byId<HTMLInputElement>('signin-email').value.trim();
    const password = byId<HTMLInputElement>('signin-password').value;
    const submit = byId<HTMLButtonElement>('signin-submit');
    submit.disabled = true;
    showError(byId('signin-error'), null);
    signIn(email, password)
      .catch((error: unknown) => showError(byId('signin-error'), errorText(error)))
      .finally(() => {
        submit.disabled = false;
      });
  });
  byId('sign-out').addEventListener('click', signOut);
  byId('tab-calls').addEventListener('click', () => showView('calls'));
  byId('tab-wallboard').addEventListener('click', () => showView('wallboard'));
  byId<HTMLFormElement>('dial-form').addEventListener('submit', (event) => {
    event.preventDefault();
    dial(byId<HTMLInputElement>('dial-target').value.trim(), byId<HTMLSelectElement>('dial-queue').value);
  });
  byId<HTMLFormElement>('explore-form').addEventListener('submit', (event) => {
    event.preventDefault();
    void runExplore(byId<HTMLInputElement>('explore-input').value.trim(), true);
  });
  byId('recent-refresh').addEventListener('click', () => void loadRecent());
  window.addEventListener('beforeunload', () => stopSoftphone());
}

wire();
