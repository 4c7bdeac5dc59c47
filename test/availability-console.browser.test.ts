/**
 * The console's status switcher in Chromium (issue 16): a signed-in agent sets their availability
 * with a note, switches serving a queue off, and after a queue call answered in the softphone ends
 * the wrap-up — each change made through the REST API with the console's credentials and visible
 * to an admin's REST client at once. A screenshot goes to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { launchChromium, openConsolePage, type RecordingPage } from './support/browser.js';
import { type RestClient, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import { openPhonePage } from './support/webphone-pages.js';

const DOMAIN = 'switchboard.local';
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
const TENANT = parseTenantYaml(
  `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: c@example.com, displayName: User C, extension: "1003", password: secret-c }
  - { username: admin@example.com, extension: "1000", password: secret-admin, role: admin }
queues:
  - { name: Support, extension: "100", members: [c@example.com], wrapUpSeconds: 120 }
  - { name: Sales, extension: "200", members: [c@example.com] }
`,
  'console-agents.yaml',
);

type Json = Record<string, unknown>;

let env: TestPlatform;
let browser: Browser;
let admin: RestClient;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [env, browser] = await Promise.all([startTestPlatform(TENANT, 'sqlite'), launchChromium()]);
  admin = await env.rest('admin@example.com', 'secret-admin');
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

const openConsole = (email: string, password: string): Promise<RecordingPage> =>
  openConsolePage(browser, env.platform.httpUrl, email, password, { width: 1400 });

describe('the status switcher', () => {
  it('sets availability, switches serving and ends wrap-up through the REST API', async () => {
    const cId = env.platform.directory.userByUsername('c@example.com')!.userId;
    const consoleC = await openConsole('c@example.com', 'secret-c');
    const { page } = consoleC;
    const a = await openPhonePage(browser, env.platform.httpUrl, {
      extension: '1001',
      password: 'secret-a',
      domain: DOMAIN,
    });
    try {
      await page.waitForSelector('#agent-status:not([hidden])');
      await page.waitForSelector('#availability-current[data-availability="Available"]');
      await expect(page.locator('[data-testid="serving-toggle"]').count()).resolves.toBe(2);

      // Do not disturb, with a note.
      await page.selectOption('#availability-select', 'DoNotDisturb');
      await page.fill('#availability-note', 'writing the report');
      await page.click('#availability-set');
      await page.waitForSelector('#availability-current[data-availability="DoNotDisturb"]');
      await expect(page.textContent('#availability-current')).resolves.toContain('writing the report');
      expect((await admin.get(`/users/${cId}/availability`)).body).toMatchObject({
        Availability: 'DoNotDisturb',
        Note: 'writing the report',
      });
      await page.screenshot({ path: join(ARTIFACTS, 'console-status-switcher.png') });

      // Back to Available; stop serving Sales.
      await page.selectOption('#availability-select', 'Available');
      await page.fill('#availability-note', '');
      await page.click('#availability-set');
      await page.waitForSelector('#availability-current[data-availability="Available"]');
      await page.locator('[data-testid="serving-toggle"]').nth(1).uncheck();
      await waitFor(
        async () => {
          const queues = (await admin.get(`/users/${cId}/queues`)).body as Json[];
          return queues.find((queue) => queue.QueueName === 'Sales')?.Serving === false ? true : undefined;
        },
        5000,
        'Sales not served',
      );

      // A queue call, answered in the softphone; after it C is in wrap-up, and ends it.
      const aCallId = await a.page.evaluate(() => window.sb.phone.makeCall('100'));
      const card = page.locator('.call-card[data-state="ringing"]');
      await card.waitFor({ timeout: 10_000 });
      await card.locator('[data-testid="answer"]').click();
      await page.locator('.call-card[data-state="connected"]').waitFor({ timeout: 10_000 });
      await a.waitForEvent('call-connected', aCallId);
      await a.page.evaluate((id) => window.sb.phone.hangup(id), aCallId);
      await page.locator('.call-card[data-state="ended"]').waitFor({ timeout: 10_000 });
      await page.waitForSelector('#wrapup-state[data-in-wrap-up="true"]', { timeout: 10_000 });
      expect((await admin.get(`/users/${cId}/wrapup`)).body).toMatchObject({ InWrapUp: true });
      await page.click('#wrapup-end');
      await page.waitForSelector('#wrapup-state[data-in-wrap-up="false"]');
      expect((await admin.get(`/users/${cId}/wrapup`)).body).toEqual({
        UserId: cId,
        InWrapUp: false,
        EndTime: null,
      });
      expect(consoleC.errors).toEqual([]);
    } finally {
      await a.close();
      await consoleC.context.close();
    }
  }, 60_000);
});
