/**
 * Browser pages running the webphone SDK exactly as an integration would: the module is imported
 * from the platform's own `/webphone.js`, a WebPhone registers over the platform's SIP WebSocket,
 * and every SDK event is recorded in the page (`window.sb.events`) for the test to wait on.
 * Media is real: Chromium's fake microphone, and a peer connection between two pages.
 */
import type { Browser, Page } from 'playwright-core';
import type {
  CallEndedEvent,
  WebPhone,
  WebPhoneCall,
  WebPhoneEvent,
  WebPhoneOptions,
} from '../../src/webphone/webphone.js';
import { openRecordingPage } from './browser.js';

export interface RecordedEvent {
  name: WebPhoneEvent;
  /** The event object as the SDK emitted it (a call snapshot for call events). */
  payload: Partial<CallEndedEvent> & Record<string, unknown>;
  atMs: number;
}

interface PageHarness {
  phone: WebPhone;
  events: RecordedEvent[];
}

declare global {
  interface Window {
    sb: PageHarness;
  }
}

const EVENTS: WebPhoneEvent[] = [
  'registered',
  'unregistered',
  'registration-failed',
  'call-incoming',
  'call-in-progress',
  'call-connected',
  'call-ended',
  'call-updated',
  'call-dtmf',
  'transfer-progress',
  'transfer-completed',
  'transfer-failed',
  'error',
];

/** The SDK events whose payload is a call snapshot. */
export type CallEventName = 'call-incoming' | 'call-in-progress' | 'call-connected' | 'call-updated';

export interface PhonePage {
  readonly page: Page;
  readonly extension: string;
  /** Page errors and console errors seen so far. */
  readonly errors: string[];
  events(): Promise<RecordedEvent[]>;
  /** The first event named `name` (for `callId`, if given) — waiting for it if it has not happened yet. */
  waitForEvent(name: WebPhoneEvent, callId?: string, timeoutMs?: number): Promise<RecordedEvent>;
  /** `waitForEvent` for a call event: the call snapshot it carries. */
  waitForCall(name: CallEventName, callId?: string, timeoutMs?: number): Promise<WebPhoneCall>;
  /** `waitForEvent('call-ended', …)`: how the call ended. */
  waitForEnded(callId?: string, timeoutMs?: number): Promise<CallEndedEvent>;
  /** Every event named `name`, once there are at least `count`. */
  waitForEvents(name: WebPhoneEvent, count: number, timeoutMs?: number): Promise<RecordedEvent[]>;
  /** The RTCPeerConnection state of a call ('new', 'connecting', 'connected', …) or null. */
  connectionState(callId: string): Promise<string | null>;
  waitForMediaConnected(callId: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface PhoneCredentials {
  extension: string;
  password: string;
  domain: string;
}

/**
 * A fresh browser context on the platform's origin with a WebPhone. `options` are the WebPhone's
 * (server defaults to the page's origin); with `register: false` the phone is created but not
 * registered.
 */
export async function openPhonePage(
  browser: Browser,
  httpUrl: string,
  options: PhoneCredentials & Partial<WebPhoneOptions>,
  { register = true }: { register?: boolean } = {},
): Promise<PhonePage> {
  const { context, page, errors } = await openRecordingPage(browser, { platformPage: true });
  // Any page of the platform's origin will do: the SDK is imported from /webphone.js like an app would.
  await page.goto(new URL('health', httpUrl).toString());
  await page.addScriptTag({
    type: 'module',
    content: `
      import { WebPhone } from '/webphone.js';
      window.sbModule = { WebPhone };
    `,
  });
  await page.waitForFunction(() => 'sbModule' in window);
  await page.evaluate(
    async ({ options, eventNames, register }) => {
      const { WebPhone: PhoneClass } = (window as unknown as { sbModule: { WebPhone: typeof WebPhone } })
        .sbModule;
      const phone = new PhoneClass({ server: location.origin, ...options });
      const events: RecordedEvent[] = [];
      for (const name of eventNames) {
        phone.on(name, (payload) =>
          events.push({ name, payload: JSON.parse(JSON.stringify(payload)), atMs: Date.now() }),
        );
      }
      window.sb = { phone, events };
      if (register) await phone.register();
    },
    { options, eventNames: EVENTS, register },
  );

  const find = (name: WebPhoneEvent, callId?: string) =>
    page.evaluate(
      ({ name, callId }) =>
        window.sb.events.find(
          (event) => event.name === name && (callId === undefined || event.payload.callId === callId),
        ) ?? null,
      { name, callId },
    );

  const waitForEvent = async (name: WebPhoneEvent, callId?: string, timeoutMs = 10_000) => {
    await page.waitForFunction(
      ({ name, callId }) =>
        window.sb.events.some(
          (event) => event.name === name && (callId === undefined || event.payload.callId === callId),
        ),
      { name, callId },
      { timeout: timeoutMs, polling: 25 },
    );
    return (await find(name, callId))!;
  };

  return {
    page,
    extension: options.extension,
    errors,
    events: () => page.evaluate(() => window.sb.events),
    waitForEvent,
    waitForCall: async (name, callId, timeoutMs) => asCall(await waitForEvent(name, callId, timeoutMs)),
    waitForEnded: async (callId, timeoutMs) => asEnded(await waitForEvent('call-ended', callId, timeoutMs)),
    async waitForEvents(name, count, timeoutMs = 10_000) {
      await page.waitForFunction(
        ({ name, count }) => window.sb.events.filter((event) => event.name === name).length >= count,
        { name, count },
        { timeout: timeoutMs, polling: 25 },
      );
      return page.evaluate((name) => window.sb.events.filter((event) => event.name === name), name);
    },
    connectionState: (callId) =>
      page.evaluate((callId) => window.sb.phone.peerConnection(callId)?.connectionState ?? null, callId),
    async waitForMediaConnected(callId, timeoutMs = 15_000) {
      await page.waitForFunction(
        (callId) => window.sb.phone.peerConnection(callId)?.connectionState === 'connected',
        callId,
        {
          timeout: timeoutMs,
          polling: 50,
        },
      );
    },
    async close() {
      await page.evaluate(() => window.sb?.phone.stop()).catch(() => {});
      await context.close();
    },
  };
}

/** The seed's users by extension: every browser test's tenant gives them these SIP passwords. */
const SEED_PASSWORDS: Readonly<Record<SeedExtension, string>> = {
  '1001': 'secret-a',
  '1002': 'secret-b',
  '1003': 'secret-c',
};

export type SeedExtension = '1001' | '1002' | '1003';

/** A registered phone page for each of the seed's users named, opened in parallel, in that order. */
export function openSeedPhones(
  browser: Browser,
  httpUrl: string,
  domain: string,
  extensions: readonly SeedExtension[],
): Promise<PhonePage[]> {
  return Promise.all(
    extensions.map((extension) =>
      openPhonePage(browser, httpUrl, { extension, password: SEED_PASSWORDS[extension], domain }),
    ),
  );
}

/** What the seed's scenario leaves behind: every page and the identifiers each one saw. */
export interface SeedScenarioResult {
  a: PhonePage;
  b: PhonePage;
  c: PhonePage;
  /** A's call as the SDK reported it at each moment. */
  aInProgress: WebPhoneCall;
  aConnected: WebPhoneCall;
  aEnded: CallEndedEvent;
  bIncoming: WebPhoneCall;
  bEnded: CallEndedEvent;
  cIncoming: WebPhoneCall;
  cConnected: WebPhoneCall;
  cEnded: CallEndedEvent;
  /** The client callId makeCall returned on A's page. */
  aCallId: string;
  /** Peer connection states of A and C while connected. */
  mediaStates: { a: string | null; c: string | null };
}

const asCall = (event: RecordedEvent) => event.payload as unknown as WebPhoneCall;
const asEnded = (event: RecordedEvent) => event.payload as unknown as CallEndedEvent;

/**
 * The seed's example (DESIGN.md §2): A calls queue Support (extension 100); the call is offered
 * to B, who rejects it, then to C, who answers; media flows between A and C; A hangs up.
 */
export async function runSeedScenario(
  browser: Browser,
  httpUrl: string,
  domain: string,
  talkMs = 1200,
): Promise<SeedScenarioResult> {
  const [a, b, c] = await openSeedPhones(browser, httpUrl, domain, ['1001', '1002', '1003']);
  const aCallId = await a.page.evaluate(() => window.sb.phone.makeCall('100'));
  const aInProgress = asCall(await a.waitForEvent('call-in-progress', aCallId));

  const bIncoming = asCall(await b.waitForEvent('call-incoming'));
  await b.page.evaluate((callId) => window.sb.phone.reject(callId), bIncoming.callId);
  const bEnded = asEnded(await b.waitForEvent('call-ended', bIncoming.callId));

  const cIncoming = asCall(await c.waitForEvent('call-incoming'));
  await c.page.evaluate((callId) => window.sb.phone.answer(callId), cIncoming.callId);
  const cConnected = asCall(await c.waitForEvent('call-connected', cIncoming.callId));
  const aConnected = asCall(await a.waitForEvent('call-connected', aCallId));

  await Promise.all([a.waitForMediaConnected(aCallId), c.waitForMediaConnected(cIncoming.callId)]);
  const mediaStates = { a: await a.connectionState(aCallId), c: await c.connectionState(cIncoming.callId) };
  await new Promise((resolve) => setTimeout(resolve, talkMs));

  await a.page.evaluate((callId) => window.sb.phone.hangup(callId), aCallId);
  const aEnded = asEnded(await a.waitForEvent('call-ended', aCallId));
  const cEnded = asEnded(await c.waitForEvent('call-ended', cIncoming.callId));
  return {
    a,
    b,
    c,
    aCallId,
    aInProgress,
    aConnected,
    aEnded,
    bIncoming,
    bEnded,
    cIncoming,
    cConnected,
    cEnded,
    mediaStates,
  };
}

/**
 * A webphone page signed in as a user of the platform's tenant (its password from the directory),
 * added to `opened` so that the suite closes it.
 */
export async function tenantPhonePage(
  browser: Browser,
  platform: {
    httpUrl: string;
    directory: { userByExtension(extension: string): { password: string } | undefined };
  },
  extension: string,
  options: { domain: string; opened: { close(): Promise<void> }[] },
): Promise<PhonePage> {
  const page = await openPhonePage(browser, platform.httpUrl, {
    extension,
    password: platform.directory.userByExtension(extension)!.password,
    domain: options.domain,
  });
  options.opened.push(page);
  return page;
}
