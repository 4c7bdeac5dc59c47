/**
 * The web console in Chromium (issue 7): after the seed's scenario ran on three webphone pages,
 * an admin signs in to the console and the call explorer shows the call's identifier map — all
 * three users, both allocations with the client callId each device saw, every record with its
 * endpoint and permission, the sequence diagram. A member sees only their part. The softphone
 * panel shows a live call's callId and serverSideCallId. Screenshots go to test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoTenant } from '../src/config/demo.js';
import { launchChromium, openConsolePage, type RecordingPage } from './support/browser.js';
import { type RestClient, startTestPlatform, type TestPlatform, waitFor } from './support/platform.js';
import { openPhonePage, runSeedScenario, type SeedScenarioResult } from './support/webphone-pages.js';

const TENANT = demoTenant({ publicUrl: 'http://127.0.0.1:8080/' });
const DOMAIN = TENANT.domain;
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');

let env: TestPlatform;
let browser: Browser;
let admin: RestClient;
let run: SeedScenarioResult;
let callId: string;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  [env, browser] = await Promise.all([startTestPlatform(TENANT, 'sqlite'), launchChromium()]);
  admin = await env.rest('admin@example.com', 'secret-admin');
  run = await runSeedScenario(browser, env.platform.httpUrl, DOMAIN, 300);
  callId = run.aInProgress.serverSideCallId!;
  await Promise.all([run.a.close(), run.b.close(), run.c.close()]);
  // The explorer shows records: wait until post-processing has written the final ones.
  await waitFor(
    async () => {
      const [events, headers, details] = await Promise.all([
        admin.list('/calls', { CallId: callId }),
        admin.list('/servicecall', { CallId: callId }),
        admin.list(`/servicecall/${callId}/details`),
      ]);
      return events.length === 3 && headers[0]?.Result === 'Handled' && details.length === 6
        ? true
        : undefined;
    },
    10_000,
    'the records of the scenario',
  );
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await env?.close();
});

async function openConsole(
  email: string,
  password: string,
  signInScreenshot?: string,
): Promise<RecordingPage> {
  return openConsolePage(browser, env.platform.httpUrl, email, password, {
    beforeSignIn: async (page) => {
      if (signInScreenshot) await page.screenshot({ path: join(ARTIFACTS, signInScreenshot) });
    },
  });
}

async function explore(page: Page, identifier: string): Promise<void> {
  await page.fill('#explore-input', identifier);
  await page.click('#explore-submit');
  await page.waitForSelector(`.call-map[data-call-id="${callId}"]`, { timeout: 10_000 });
}

describe('the call explorer', () => {
  it('shows an admin the whole identifier map of the scenario', async () => {
    const { context, page, errors } = await openConsole(
      'admin@example.com',
      'secret-admin',
      'console-sign-in.png',
    );
    try {
      await explore(page, callId);
      const map = page.locator(`.call-map[data-call-id="${callId}"]`);
      await expect(map.locator('[data-testid="map-call-id"]').textContent()).resolves.toBe(callId);

      // Legs: A's caller leg and both allocations, each with the client callId its page saw.
      const legRows = map.locator('table.legs tbody tr');
      await expect(legRows.count()).resolves.toBe(3);
      const legs = await legRows.evaluateAll((rows) =>
        rows.map((row) => ({
          role: row.getAttribute('data-role'),
          text: row.textContent ?? '',
          callLegId: row.querySelector('[data-testid="leg-call-leg-id"]')?.textContent,
          clientCallId: row.querySelector('[data-testid="leg-client-call-id"]')?.textContent,
        })),
      );
      expect(legs.map((leg) => leg.role)).toEqual(['Caller', 'Allocation', 'Allocation']);
      expect(legs[0]).toMatchObject({ callLegId: run.aInProgress.callLegId, clientCallId: run.aCallId });
      expect(legs[0]!.text).toContain('User A');
      expect(legs[1]).toMatchObject({
        callLegId: run.bIncoming.callLegId,
        clientCallId: run.bIncoming.callId,
      });
      expect(legs[1]!.text).toMatch(/User B[\s\S]*Allocation #1|Allocation #1[\s\S]*User B/);
      expect(legs[1]!.text).toContain('Rejected · GenericUserRejected');
      expect(legs[2]).toMatchObject({
        callLegId: run.cIncoming.callLegId,
        clientCallId: run.cIncoming.callId,
      });
      expect(legs[2]!.text).toContain('User C');
      expect(legs[2]!.text).toContain('Connected');

      // Records: three user call events, the service call header and six details — each with its endpoint and permission.
      const records = await map
        .locator('table.records tbody tr')
        .evaluateAll((rows) =>
          rows.map((row) => ({ kind: row.getAttribute('data-kind'), text: row.textContent ?? '' })),
        );
      const kinds = records.map((record) => record.kind);
      expect(kinds.filter((kind) => kind === 'UserCallEvent')).toHaveLength(3);
      expect(kinds.filter((kind) => kind === 'ServiceCall')).toHaveLength(1);
      expect(kinds.filter((kind) => kind === 'ServiceCallDetail')).toHaveLength(6);
      const text = (kind: string) =>
        records
          .filter((record) => record.kind === kind)
          .map((record) => record.text)
          .join('\n');
      expect(text('UserCallEvent')).toContain('DirectCalls of a@example.com');
      expect(text('UserCallEvent')).toContain('AgentCalls of b@example.com');
      expect(text('UserCallEvent')).toContain('AgentCalls of c@example.com');
      expect(text('UserCallEvent')).toContain(`GET /calls?CallId=${callId}`);
      expect(text('ServiceCall')).toContain('ServiceCalls of Support');
      expect(text('ServiceCallDetail')).toContain(`GET /servicecall/${callId}/details`);
      expect(text('ServiceCallDetail')).toContain('UserReject · b@example.com · GenericUserRejected');

      // The sequence diagram: all parties, two offers, one rejection, one answer.
      const actors = await map.locator('svg.sequence .actor-label').allTextContents();
      expect(actors).toEqual(
        expect.arrayContaining([
          'User A (1001)',
          'Switchboard',
          'Queue Support (100)',
          'User B (1002)',
          'User C (1003)',
        ]),
      );
      const steps = await map
        .locator('svg.sequence g.step')
        .evaluateAll((groups) => groups.map((group) => group.textContent ?? ''));
      expect(steps.filter((step) => step.startsWith('INVITE (offer'))).toHaveLength(2);
      expect(steps.some((step) => step.startsWith('603 Decline'))).toBe(true);
      expect(steps.some((step) => step.startsWith('offer #2 answered'))).toBe(true);

      await map.screenshot({ path: join(ARTIFACTS, 'console-call-map.png') });
      // A viewport as tall as the page (rather than fullPage) keeps the sticky softphone where a reader sees it.
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      await page.setViewportSize({ width: 1500, height });
      await page.screenshot({ path: join(ARTIFACTS, 'console-explorer.png') });
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("finds the call by B's client callId and marks where it matched", async () => {
    const { context, page } = await openConsole('admin@example.com', 'secret-admin');
    try {
      await explore(page, run.bIncoming.callId);
      const map = page.locator(`.call-map[data-call-id="${callId}"]`);
      await expect(map.locator('.facts').textContent()).resolves.toContain('client callId (webphone)');
      await expect(map.locator('code.hit').allTextContents()).resolves.toContain(run.bIncoming.callId);
    } finally {
      await context.close();
    }
  });

  it('shows B only their own part of the call', async () => {
    const { context, page } = await openConsole('b@example.com', 'secret-b');
    try {
      await explore(page, callId);
      const map = page.locator(`.call-map[data-call-id="${callId}"]`);
      await expect(map.locator('.badge.partial').count()).resolves.toBe(1);
      const legs = await map
        .locator('table.legs tbody tr')
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-leg-id')));
      expect(legs).toEqual([run.bIncoming.callLegId]);
      const records = await map.locator('table.records tbody tr').allTextContents();
      expect(records).toHaveLength(1);
      expect(records[0]).toContain('AgentCalls of b@example.com');
      const everything = (await map.textContent()) ?? '';
      expect(everything).not.toContain(run.cIncoming.callLegId!);
      expect(everything).not.toContain(run.aCallId);
      expect(everything).not.toContain('User C');
      await page.screenshot({ path: join(ARTIFACTS, 'console-explorer-member-view.png'), fullPage: true });
      // A's client callId is not B's to see: the explorer says so.
      await page.fill('#explore-input', run.aCallId);
      await page.click('#explore-submit');
      await page.waitForSelector('#explore-error:not([hidden])');
      await expect(page.textContent('#explore-error')).resolves.toContain('Nothing you may see');
    } finally {
      await context.close();
    }
  });
});

describe('the softphone panel', () => {
  it('shows a live call with its callId and serverSideCallId, answers it, and keeps the ids after hang-up', async () => {
    const consoleC = await openConsole('c@example.com', 'secret-c');
    const a = await openPhonePage(browser, env.platform.httpUrl, {
      extension: '1001',
      password: 'secret-a',
      domain: DOMAIN,
    });
    try {
      const { page } = consoleC;
      const aCallId = await a.page.evaluate(() => window.sb.phone.makeCall('1003'));
      const card = page.locator('.call-card[data-state="ringing"]');
      await card.waitFor({ timeout: 10_000 });
      const aProgress = await a.waitForEvent('call-in-progress', aCallId);
      const serverSideCallId = String(aProgress.payload.serverSideCallId);
      await expect(card.locator('[data-testid="server-side-call-id"]').textContent()).resolves.toBe(
        serverSideCallId,
      );
      const clientCallId = await card.locator('[data-testid="client-call-id"]').textContent();
      expect(clientCallId).toBeTruthy();
      expect(clientCallId).not.toBe(aCallId);
      await page.screenshot({ path: join(ARTIFACTS, 'console-softphone-ringing.png') });

      await card.locator('[data-testid="answer"]').click();
      await page.locator('.call-card[data-state="connected"]').waitFor({ timeout: 10_000 });
      await a.waitForEvent('call-connected', aCallId);
      await a.waitForMediaConnected(aCallId);
      await page.screenshot({ path: join(ARTIFACTS, 'console-softphone-connected.png') });

      await a.page.evaluate((id) => window.sb.phone.hangup(id), aCallId);
      const ended = page.locator('.call-card[data-state="ended"]');
      await ended.waitFor({ timeout: 10_000 });
      await expect(ended.locator('[data-testid="client-call-id"]').textContent()).resolves.toBe(clientCallId);
      await expect(ended.locator('[data-testid="server-side-call-id"]').textContent()).resolves.toBe(
        serverSideCallId,
      );
      expect(consoleC.errors).toEqual([]);
    } finally {
      await a.close();
      await consoleC.context.close();
    }
  });
});
