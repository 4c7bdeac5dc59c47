/**
 * A real browser as a SIP peer: headless Chromium (the system's /usr/bin/chromium, driven by
 * playwright-core — no browser is ever downloaded) running JsSIP over WebSocket.
 *
 * `launchChromium` starts the browser; `serveTestPage` serves a page with JsSIP (bundled for the
 * browser from node_modules/jssip by esbuild) and a small in-page harness (`window.sipHarness`)
 * from a throwaway HTTP server on port 0; `openSipPage` puts the two together. A missing Chromium
 * is an error, never a skip: a skipped interop test would be a false pass (CI installs chromium).
 */
import { accessSync, constants } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

export class ChromiumUnavailableError extends Error {
  readonly code = 'ChromiumUnavailable';
}

/**
 * Launch headless Chromium from CHROMIUM_PATH. Throws when it is not installed (CI=true or not).
 * `extraArgs` adds flags for one suite (the TLS suite's `--ignore-certificate-errors`, for its
 * self-signed certificate; never in the others).
 */
export async function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  try {
    accessSync(CHROMIUM_PATH, constants.X_OK);
  } catch {
    const ci = process.env.CI === 'true' ? ' (CI=true: real SIP peers are required)' : '';
    throw new ChromiumUnavailableError(
      `Chromium is required for the browser interop tests: ${CHROMIUM_PATH} is not executable; install the Debian package chromium or set CHROMIUM_PATH${ci}`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

let jsSipBundle: Promise<string> | undefined;

/** JsSIP as one browser script defining `window.JsSIP` (built once per test process). */
export function bundleJsSip(): Promise<string> {
  jsSipBundle ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('jssip');
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      format: 'iife',
      globalName: 'JsSIP',
      platform: 'browser',
      target: 'es2020',
      write: false,
      logLevel: 'silent',
    });
    const output = result.outputFiles[0];
    if (!output) throw new Error('esbuild produced no JsSIP bundle');
    return output.text;
  })();
  return jsSipBundle;
}

// ---- the in-page harness -----------------------------------------------------------------------

export interface RegisterConfig {
  wsUrl: string;
  /** Address-of-record, e.g. sip:1001@switchboard.local. */
  uri: string;
  password: string;
  authorizationUser: string;
  /** Registration lifetime in seconds. Default 600. */
  expires?: number;
  /** Give up waiting for the outcome after this many ms. Default 10000. */
  timeoutMs?: number;
}

export interface HarnessOutcome {
  /** The JsSIP UA event that settled the wait, or 'timeout'. */
  event: 'registered' | 'registrationFailed' | 'unregistered' | 'timeout';
  /** Status code of the final SIP response, when there was one. */
  status?: number;
  /** JsSIP's failure cause (e.g. 'Authentication Error'). */
  cause?: string;
  /** The Contact JsSIP registered. */
  contact?: string;
}

/** What `window.sipHarness` offers in the page (driven with page.evaluate). */
export interface SipHarness {
  /** Create a JsSIP UA that registers; resolves on 'registered' or 'registrationFailed'. */
  register(config: RegisterConfig): Promise<HarnessOutcome>;
  /** Unregister the UA; resolves on 'unregistered'. */
  unregister(timeoutMs?: number): Promise<HarnessOutcome>;
  /** Stop the UA (closes its WebSocket). */
  stop(): void;
  /** Every UA event name seen, in order (connected, registered, …). */
  readonly events: string[];
}

declare global {
  interface Window {
    sipHarness: SipHarness;
  }
}

/** Browser-side code of `SipHarness`; plain ES2020 so that it runs as-is in the page. */
const HARNESS_SCRIPT = `
(() => {
  'use strict';
  let ua = null;
  const events = [];
  function settle(names, timeoutMs) {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ event: 'timeout' }), timeoutMs);
      for (const name of names) {
        ua.once(name, (e) => {
          clearTimeout(timer);
          const response = e && e.response;
          resolve({
            event: name,
            status: response ? response.status_code : undefined,
            cause: e && e.cause ? String(e.cause) : undefined,
            contact: ua.contact ? ua.contact.toString() : undefined,
          });
        });
      }
    });
  }
  window.sipHarness = {
    events,
    register(config) {
      if (ua) ua.stop();
      const socket = new JsSIP.WebSocketInterface(config.wsUrl);
      ua = new JsSIP.UA({
        sockets: [socket],
        uri: config.uri,
        password: config.password,
        authorization_user: config.authorizationUser,
        register: true,
        register_expires: config.expires || 600,
        session_timers: false,
        user_agent: 'JsSIP-in-Chromium',
      });
      for (const name of ['connecting', 'connected', 'disconnected', 'registered', 'unregistered', 'registrationFailed']) {
        ua.on(name, () => events.push(name));
      }
      const outcome = settle(['registered', 'registrationFailed'], config.timeoutMs || 10000);
      ua.start();
      return outcome;
    },
    unregister(timeoutMs) {
      if (!ua) return Promise.resolve({ event: 'timeout' });
      const outcome = settle(['unregistered'], timeoutMs || 10000);
      ua.unregister();
      return outcome;
    },
    stop() {
      if (ua) ua.stop();
      ua = null;
    },
  };
})();
`;

const DEFAULT_PAGE = `<!doctype html>
<html>
  <head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Switchboard SIP test page</title></head>
  <body>
    <script src="/jssip.js"></script>
    <script src="/harness.js"></script>
  </body>
</html>
`;

export interface ServedFile {
  body: string;
  contentType: string;
}

export interface TestPageServer {
  /** Base URL with trailing slash; the page is at `url`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serve the SIP test page on 127.0.0.1 (port 0): `/` (HTML), `/jssip.js`, `/harness.js`, plus any
 * `extraFiles` (path → file; a '/' entry replaces the default page).
 */
export async function serveTestPage(extraFiles: Record<string, ServedFile> = {}): Promise<TestPageServer> {
  const files: Record<string, ServedFile> = {
    '/': { body: DEFAULT_PAGE, contentType: 'text/html; charset=utf-8' },
    '/jssip.js': { body: await bundleJsSip(), contentType: 'text/javascript; charset=utf-8' },
    '/harness.js': { body: HARNESS_SCRIPT, contentType: 'text/javascript; charset=utf-8' },
    ...extraFiles,
  };
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const file = files[path];
    if (!file || req.method !== 'GET') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file.contentType, 'cache-control': 'no-store' }).end(file.body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A fresh page (own browser context) with JsSIP and the harness loaded. Page errors and console
 * errors are collected in `errors` for assertions.
 */
export interface RecordingPage {
  context: BrowserContext;
  page: Page;
  /** Page errors and console errors seen so far: the browser tests expect none. */
  errors: string[];
}

export interface RecordingPageOptions {
  viewport?: { width: number; height: number };
  /**
   * The page is the platform's, which serves no favicon: answer the browser's automatic request
   * with 204 so that its 404 does not count as a console error.
   */
  platformPage?: boolean;
}

/** A page in a fresh browser context, recording its errors. */
export async function openRecordingPage(
  browser: Browser,
  options: RecordingPageOptions = {},
): Promise<RecordingPage> {
  const context = await browser.newContext(options.viewport ? { viewport: options.viewport } : {});
  if (options.platformPage) await context.route('**/favicon.ico', (route) => route.fulfill({ status: 204 }));
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  return { context, page, errors };
}

export async function openSipPage(
  browser: Browser,
  server: TestPageServer,
): Promise<{ page: Page; errors: string[]; close(): Promise<void> }> {
  const { context, page, errors } = await openRecordingPage(browser);
  await page.goto(server.url);
  await page.waitForFunction(() => typeof window.sipHarness === 'object');
  return { page, errors, close: () => context.close() };
}

/**
 * The platform's console in a new page, signed in as `email` with its softphone registered
 * (`options.beforeSignIn` runs on the sign-in screen, e.g. for a screenshot).
 */
export async function openConsolePage(
  browser: Browser,
  consoleUrl: string,
  email: string,
  password: string,
  options: { width?: number; beforeSignIn?: (page: Page) => Promise<void> } = {},
): Promise<RecordingPage> {
  const opened = await openRecordingPage(browser, {
    viewport: { width: options.width ?? 1500, height: 1000 },
    platformPage: true,
  });
  const { page } = opened;
  await page.goto(consoleUrl);
  await options.beforeSignIn?.(page);
  await page.fill('#signin-email', email);
  await page.fill('#signin-password', password);
  await page.click('#signin-submit');
  await page.waitForSelector('#workspace:not([hidden])');
  await page.waitForSelector('#registration[data-state="ok"]', { timeout: 10_000 });
  return opened;
}
