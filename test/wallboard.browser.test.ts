/**
 * The console's wallboard in Chromium (issue 17, item 4): on the seed tenant an admin opens the
 * wallboard; A calls the Support queue while no agent is registered → Support shows 1 waiting and
 * a longest wait that grows; B registers and is offered the call → B shows ringing with A's
 * number; B answers → connected, nobody waiting; both plots for today count the call (answered
 * within 20 s). Everything the wallboard shows came from the RTE hub after the initial REST load —
 * it does not poll. Assertions read the rows' data-* attributes; screenshots at each step go to
 * test-artifacts/wallboard-*.png.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import { launchChromium, openConsolePage } from './support/browser.js';
import { startTestPlatform, type TestPlatform } from './support/platform.js';
import { openPhonePage, type PhonePage } from './support/webphone-pages.js';

const TENANT = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });
const DOMAIN = TENANT.domain;
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

let env: TestPlatform;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [env, browser] = await Promise.all([startTestPlatform(TENANT, 'sqlite'), launchChromium()]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

const attr = (page: Page, selector: string, name: string): Promise<string | null> =>
  page.locator(selector).getAttribute(name);

describe('the wallboard', () => {
  it('follows a queue call as it waits, rings and connects — from the hub', async () => {
    const bId = env.platform.directory.userByUsername('b@example.com')!.userId;
    const supportId = env.platform.directory.tenant.queues.find((queue) => queue.name === 'Support')!.queueId;
    const queueRow = `[data-testid="wallboard-queue"][data-queue-id="${supportId}"]`;
    const agentB = `[data-testid="wallboard-agent"][data-user-id="${bId}"]`;
    const shot = (page: Page, name: string) =>
      page.screenshot({ path: join(ARTIFACTS, `wallboard-${name}.png`), fullPage: true });

    const admin = await openConsolePage(browser, env.platform.httpUrl, 'admin@example.com', 'secret-admin');
    const { page } = admin;
    // Count the wallboard's HTTP requests: after the initial load there must be none (no polling).
    const requests: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.startsWith('/queues') || url.pathname.startsWith('/servicecall'))
        requests.push(url.pathname);
      if (url.pathname.endsWith('/availability') && url.pathname.includes(bId)) requests.push(url.pathname);
    });
    let a: PhonePage | undefined;
    let b: PhonePage | undefined;
    try {
      await page.click('#tab-wallboard');
      await page.waitForSelector('#wallboard:not([hidden])');
      await page.waitForSelector('#wallboard-hub[data-hub="connected"]', { timeout: 10_000 });
      await page.waitForSelector(`${queueRow}[data-waiting="0"]`);
      await page.waitForSelector(`${agentB}[data-availability="Available"][data-call-state="idle"]`);
      await expect(attr(page, '[data-testid="plot-calls-per-hour"]', 'data-total')).resolves.toBe('0');
      await shot(page, '0-idle');
      const loadRequests = requests.length;

      // A calls Support; no agent is registered, so the call waits.
      a = await openPhonePage(browser, env.platform.httpUrl, {
        extension: '1001',
        password: 'secret-a',
        domain: DOMAIN,
      });
      const aCallId = await a.page.evaluate(() => window.sb.phone.makeCall('100'));
      await page.waitForSelector(`${queueRow}[data-waiting="1"]`, { timeout: 10_000 });
      await page.waitForSelector('[data-testid="plot-calls-per-hour"][data-total="1"]');
      const firstWait = Number(await attr(page, queueRow, 'data-longest-wait'));
      // The longest wait ticks locally.
      await page.waitForFunction(
        ({ selector, before }) =>
          Number(document.querySelector(selector)?.getAttribute('data-longest-wait')) >= before + 2,
        { selector: queueRow, before: firstWait },
        { timeout: 5000 },
      );
      await shot(page, '1-waiting');

      // B registers and is offered the call: B rings with A's number.
      b = await openPhonePage(browser, env.platform.httpUrl, {
        extension: '1002',
        password: 'secret-b',
        domain: DOMAIN,
      });
      const incoming = await b.waitForCall('call-incoming', undefined, 15_000);
      await page.waitForSelector(`${agentB}[data-call-state="ringing"][data-call-number="1001"]`, {
        timeout: 5000,
      });
      await expect(page.locator(agentB).textContent()).resolves.toContain('ringing');
      await shot(page, '2-ringing');

      // B answers: connected, nobody waits; the call was answered within 20 s.
      await b.page.evaluate((callId) => window.sb.phone.answer(callId), incoming.callId);
      await a.waitForEvent('call-connected', aCallId);
      await page.waitForSelector(`${agentB}[data-call-state="connected"][data-call-number="1001"]`, {
        timeout: 5000,
      });
      await page.waitForSelector(`${queueRow}[data-waiting="0"][data-connected="1"]`, { timeout: 5000 });
      const hour = String(new Date().getHours());
      await page.waitForSelector(
        `[data-testid="plot-answered-20s"][data-answered20s="1"] rect[data-hour="${hour}"][data-share="100"]`,
      );
      await expect(
        attr(page, `[data-testid="plot-calls-per-hour"] rect[data-hour="${hour}"]`, 'data-calls'),
      ).resolves.toBe('1');
      await shot(page, '3-connected');

      // A hangs up: B is idle again.
      await a.page.evaluate((callId) => window.sb.phone.hangup(callId), aCallId);
      await page.waitForSelector(`${agentB}[data-call-state="idle"]`, { timeout: 5000 });
      await page.waitForSelector(`${queueRow}[data-waiting="0"][data-connected="0"]`, { timeout: 5000 });
      await shot(page, '4-ended');

      // Everything after the initial load came from the hub.
      expect(requests.length).toBe(loadRequests);
      expect(admin.errors).toEqual([]);
    } finally {
      await a?.close();
      await b?.close();
      await admin.context.close();
    }
  }, 90_000);

  it('shows an agent only what the hub lets them subscribe to', async () => {
    // C is a member of Support without its ServiceCalls permission: no queue, only C as agent.
    const cId = env.platform.directory.userByUsername('c@example.com')!.userId;
    const consoleC = await openConsolePage(browser, env.platform.httpUrl, 'c@example.com', 'secret-c');
    const { page } = consoleC;
    try {
      await page.click('#tab-wallboard');
      await page.waitForSelector('#wallboard-hub[data-hub="connected"]', { timeout: 10_000 });
      await page.waitForSelector(`[data-testid="wallboard-agent"][data-user-id="${cId}"]`);
      await expect(page.locator('[data-testid="wallboard-agent"]').count()).resolves.toBe(1);
      await expect(page.locator('[data-testid="wallboard-queue"]').count()).resolves.toBe(0);
      await expect(page.textContent('#wallboard-queues')).resolves.toContain('No queue');
      await page.screenshot({ path: join(ARTIFACTS, 'wallboard-agent-view.png'), fullPage: true });
      expect(consoleC.errors).toEqual([]);
    } finally {
      await consoleC.context.close();
    }
  }, 30_000);

  it('reconnects after the hub connection drops and resumes the events it missed', async () => {
    const bId = env.platform.directory.userByUsername('b@example.com')!.userId;
    const agentB = `[data-testid="wallboard-agent"][data-user-id="${bId}"]`;
    const adminRest = await env.rest('admin@example.com', 'secret-admin');
    const admin = await openConsolePage(browser, env.platform.httpUrl, 'admin@example.com', 'secret-admin', {
      // Keep the page's hub WebSockets reachable, to drop one from the test.
      beforeSignIn: (page) =>
        page.evaluate(() => {
          const sockets: WebSocket[] = [];
          (window as unknown as { rteSockets: WebSocket[] }).rteSockets = sockets;
          const Native = window.WebSocket;
          window.WebSocket = class extends Native {
            constructor(url: string | URL, protocols?: string | string[]) {
              super(url, protocols);
              if (new URL(url).pathname === '/rte') sockets.push(this);
            }
          };
        }),
    });
    const { page } = admin;
    try {
      await page.click('#tab-wallboard');
      await page.waitForSelector('#wallboard-hub[data-hub="connected"]', { timeout: 10_000 });
      await page.waitForSelector(`${agentB}[data-availability="Available"]`);
      await page.evaluate(() => (window as unknown as { rteSockets: WebSocket[] }).rteSockets[0]!.close());
      await page.waitForSelector('#wallboard-hub[data-hub="reconnecting"]');
      // Changed while the wallboard is not connected: it learns it from the resumed events.
      const set = await adminRest.post(`/users/${bId}/availability`, { Availability: 'DoNotDisturb' });
      expect(set.status).toBe(200);
      await page.waitForSelector('#wallboard-hub[data-hub="connected"]', { timeout: 10_000 });
      await page.waitForSelector(`${agentB}[data-availability="DoNotDisturb"]`, { timeout: 5000 });
      await expect(
        page.evaluate(() => (window as unknown as { rteSockets: WebSocket[] }).rteSockets.length),
      ).resolves.toBe(2);
      await page.screenshot({ path: join(ARTIFACTS, 'wallboard-resumed.png'), fullPage: true });
      await adminRest.post(`/users/${bId}/availability`, { Availability: 'Available' });
      await page.waitForSelector(`${agentB}[data-availability="Available"]`, { timeout: 5000 });
      expect(admin.errors).toEqual([]);
    } finally {
      await admin.context.close();
    }
  }, 30_000);
});
