/**
 * Agents' availability and queue membership (issue 16, DESIGN.md §11) through real SIP phones and
 * the REST API: only Available users who serve a queue are offered its calls; an EndTime brings a
 * user back (and a waiting call is offered at once); DoNotDisturb refuses direct calls (486, or
 * 480 when the user says so) while Busy and OffWork users still get them; "end wrap-up now"; what
 * was set survives a restart; every bad input is a 400 naming the field; the OpenAPI document
 * describes every endpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import type { Tenant } from '../src/config/types.js';
import { type Platform, startPlatform } from '../src/platform.js';
import type { OutgoingCall, TestUa } from '../src/testing/test-ua.js';
import { TestUa as Ua } from '../src/testing/test-ua.js';
import { sleep, waitUntil, waitUntilAsync } from '../src/testing/wait.js';
import { freeTcpPort, RestClient, startTestPlatform, type TestPlatform } from './support/platform.js';

const DOMAIN = 'switchboard.local';

const TENANT_YAML = `
domain: ${DOMAIN}
users:
  - { username: a@example.com, extension: "1001", password: secret-a }
  - { username: b@example.com, extension: "1002", password: secret-b }
  - { username: c@example.com, extension: "1003", password: secret-c }
  - { username: d@example.com, extension: "1004", password: secret-d, dndResponse: unavailable }
  - { username: admin@example.com, extension: "1999", password: secret-admin, role: admin }
queues:
  - name: Support
    extension: "100"
    members: [b@example.com, c@example.com]
    strategy: ring-all
    allocationTimeoutSeconds: 30
  - name: Sales
    extension: "200"
    members: [c@example.com]
    allocationTimeoutSeconds: 30
  - name: Desk
    extension: "300"
    members: [b@example.com]
    wrapUpSeconds: 60
    allocationTimeoutSeconds: 30
`;

type Json = Record<string, unknown>;

let env: TestPlatform;
let platform: Platform;
let tenant: Tenant;
let admin: RestClient;
let a: TestUa;
let b: TestUa;
let c: TestUa;
let d: TestUa;
const calls: OutgoingCall[] = [];

const userId = (username: string): string => platform.directory.userByUsername(username)!.userId;
const queueId = (name: string): string => platform.directory.queueByReference(name)!.queueId;

beforeAll(async () => {
  tenant = parseTenantYaml(TENANT_YAML, 'availability.yaml');
  env = await startTestPlatform(tenant, 'sqlite');
  ({ platform } = env);
  admin = await env.rest('admin@example.com', 'secret-admin');
  [a, b, c, d] = await env.uas('1001', '1002', '1003', '1004');
}, 30_000);

afterAll(async () => {
  await env?.close();
});

afterEach(async () => {
  // Whatever a test left: its calls end, every phone rings politely again, everyone is Available
  // and serves every queue.
  for (const call of calls.splice(0)) {
    if (call.final === undefined) call.cancel();
    else if (call.final.status < 300 && !call.ended) await call.hangup().catch(() => {});
  }
  await waitUntil(() => platform.callControl.activeCalls.length === 0, 8000, 'no call left');
  for (const ua of [a, b, c, d]) {
    ua.onIncoming((call) => call.ring());
    ua.incoming.length = 0;
  }
  for (const user of tenant.users) {
    platform.callControl.agents.endWrapUp(user.userId);
    expect(
      (await admin.post(`/users/${user.userId}/availability`, { Availability: 'Available' })).status,
    ).toBe(200);
  }
  for (const queue of tenant.queues)
    for (const member of queue.memberUserIds)
      await admin.post(`/users/${member}/queues`, { QueueId: queue.queueId, Serving: true });
});

const place = (from: TestUa, target: string): OutgoingCall => {
  const call = from.call(target);
  calls.push(call);
  return call;
};

const setAvailability = async (username: string, body: Json, as: RestClient = admin) => {
  const response = await as.post(`/users/${userId(username)}/availability`, body);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as Json;
};

/** The call has rung at these phones (and, after a pause, at no other). */
async function offeredTo(expected: TestUa[], others: TestUa[]): Promise<void> {
  for (const ua of expected)
    await waitUntil(() => ua.incoming.length > 0, 5000, `an offer to ${ua.extension}`);
  await sleep(400);
  for (const ua of others) expect(ua.incoming.length, `offers to ${ua.extension}`).toBe(0);
}

describe('availability decides who is offered queue calls', () => {
  it('reads Available by default, with no Modified, for any authenticated user', async () => {
    const bClient = await env.rest('b@example.com', 'secret-b');
    const response = await bClient.get(`/users/${userId('c@example.com')}/availability`);
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      UserId: userId('c@example.com'),
      Availability: 'Available',
      Note: null,
      EndTime: null,
      Modified: null,
    });
  });

  it('with C DoNotDisturb, a queue call is offered only to B; a user sets their own', async () => {
    const cClient = await env.rest('c@example.com', 'secret-c');
    const before = Date.now();
    const set = await setAvailability(
      'c@example.com',
      { Availability: 'DoNotDisturb', Note: 'focus time' },
      cClient,
    );
    expect(set).toMatchObject({
      UserId: userId('c@example.com'),
      Availability: 'DoNotDisturb',
      Note: 'focus time',
      EndTime: null,
    });
    expect(Date.parse(set.Modified as string)).toBeGreaterThanOrEqual(before - 1000);
    expect((await admin.get(`/users/${userId('c@example.com')}/availability`)).body).toEqual(set);

    place(a, '100');
    await offeredTo([b], [c]);
    // Journaled, under the agent's stream key.
    const facts = await platform.journal.readCall(`agent:${userId('c@example.com')}`);
    expect(facts.at(-1)?.fact).toMatchObject({
      type: 'AvailabilityChanged',
      availability: 'DoNotDisturb',
      note: 'focus time',
      cause: 'Set',
      changedByUserId: userId('c@example.com'),
    });
  });

  it.each(['Busy', 'OffWork'])('with C %s, a queue call is offered only to B', async (availability) => {
    await setAvailability('c@example.com', { Availability: availability });
    place(a, '100');
    await offeredTo([b], [c]);
  });

  it('with C’s EndTime passed, C is Available again and a waiting call is offered to C at once', async () => {
    await setAvailability('b@example.com', { Availability: 'OffWork' });
    const endTime = new Date(Date.now() + 1500).toISOString();
    const set = await setAvailability('c@example.com', { Availability: 'DoNotDisturb', EndTime: endTime });
    expect(set.EndTime).toBe(endTime);
    const call = place(a, '100');
    await call.waitForProgress();
    await sleep(500);
    expect(b.incoming.length + c.incoming.length, 'nobody is offered the call while both are away').toBe(0);
    await waitUntil(() => c.incoming.length > 0, 5000, 'the call offered to C once the EndTime passed');
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(endTime) - 50);
    expect(b.incoming.length).toBe(0);
    const after = (await admin.get(`/users/${userId('c@example.com')}/availability`)).body as Json;
    expect(after).toMatchObject({ Availability: 'Available', Note: null, EndTime: null });
    const facts = await platform.journal.readCall(`agent:${userId('c@example.com')}`);
    expect(facts.at(-1)?.fact).toMatchObject({
      type: 'AvailabilityChanged',
      availability: 'Available',
      cause: 'EndTimeReached',
    });
  });

  it('a waiting call is offered as soon as a member becomes Available', async () => {
    await setAvailability('b@example.com', { Availability: 'Busy' });
    await setAvailability('c@example.com', { Availability: 'Busy' });
    const call = place(a, '100');
    await call.waitForProgress();
    await sleep(300);
    expect(b.incoming.length + c.incoming.length).toBe(0);
    await setAvailability('b@example.com', { Availability: 'Available' });
    await offeredTo([b], [c]);
  });
});

describe('serving a queue', () => {
  it('lists the user’s queues with Serving; C not serving Support is offered Sales calls but not Support calls', async () => {
    const cId = userId('c@example.com');
    expect((await admin.get(`/users/${cId}/queues`)).body).toEqual([
      { QueueId: queueId('Support'), QueueName: 'Support', Serving: true },
      { QueueId: queueId('Sales'), QueueName: 'Sales', Serving: true },
    ]);
    const cClient = await env.rest('c@example.com', 'secret-c');
    const switched = await cClient.post(`/users/${cId}/queues`, {
      QueueId: queueId('Support'),
      Serving: false,
    });
    expect(switched.status).toBe(200);
    expect(switched.body).toEqual([
      { QueueId: queueId('Support'), QueueName: 'Support', Serving: false },
      { QueueId: queueId('Sales'), QueueName: 'Sales', Serving: true },
    ]);
    const facts = await platform.journal.readCall(`agent:${cId}`);
    expect(facts.at(-1)?.fact).toMatchObject({
      type: 'ServingChanged',
      queueId: queueId('Support'),
      serving: false,
    });

    place(a, '100');
    await offeredTo([b], [c]);
    const support = b.incoming[0]!;
    expect(support.header('X-Queue-Name')).toBe('Support');
    place(d, '200');
    await waitUntil(() => c.incoming.length > 0, 5000, 'the Sales call offered to C');
    expect(c.incoming[0]!.header('X-Queue-Name')).toBe('Sales');
  });

  it('a waiting call is offered when its only member serves the queue again', async () => {
    const cId = userId('c@example.com');
    await admin.post(`/users/${cId}/queues`, { QueueId: queueId('Sales'), Serving: false });
    const call = place(a, '200');
    await call.waitForProgress();
    await sleep(300);
    expect(c.incoming.length).toBe(0);
    await admin.post(`/users/${cId}/queues`, { QueueId: queueId('Sales'), Serving: true });
    await waitUntil(() => c.incoming.length > 0, 5000, 'the Sales call offered to C');
  });
});

describe('direct calls', () => {
  it('a DoNotDisturb user’s callers get 486 Busy Here, and the device never rings', async () => {
    await setAvailability('c@example.com', { Availability: 'DoNotDisturb' });
    const response = await place(a, '1003').waitForFinal();
    expect(response.status).toBe(486);
    expect(response.reason).toMatch(/Do Not Disturb/);
    expect(c.incoming).toHaveLength(0);
  });

  it('a DoNotDisturb user with dndResponse unavailable gives 480', async () => {
    await setAvailability('d@example.com', { Availability: 'DoNotDisturb' });
    const response = await place(a, '1004').waitForFinal();
    expect(response.status).toBe(480);
    expect(d.incoming).toHaveLength(0);
  });

  it.each(['Busy', 'OffWork'])('a %s user still gets direct calls', async (availability) => {
    await setAvailability('c@example.com', { Availability: availability });
    c.answerAfterRinging(50);
    const response = await place(a, '1003').waitForFinal();
    expect(response.status).toBe(200);
    expect(c.incoming).toHaveLength(1);
  });
});

describe('wrap-up', () => {
  it('ends wrap-up now: the member is offered the waiting call at once', async () => {
    const bId = userId('b@example.com');
    b.answerAfterRinging(50);
    const first = place(a, '300');
    expect((await first.waitForFinal()).status).toBe(200);
    await first.hangup();
    await waitUntil(() => platform.callControl.activeCalls.length === 0, 5000, 'the first call ended');
    const wrapUp = (await admin.get(`/users/${bId}/wrapup`)).body as Json;
    expect(wrapUp).toMatchObject({ UserId: bId, InWrapUp: true });
    expect(Date.parse(wrapUp.EndTime as string) - Date.now()).toBeGreaterThan(50_000);

    b.onIncoming((call) => call.ring());
    const second = place(c, '300');
    await second.waitForProgress();
    await sleep(400);
    expect(b.incoming).toHaveLength(1);
    const bClient = await env.rest('b@example.com', 'secret-b');
    const ended = await bClient.post(`/users/${bId}/wrapup/end`, {});
    expect(ended.status).toBe(200);
    expect(ended.body).toEqual({ UserId: bId, InWrapUp: false, EndTime: null });
    await waitUntil(() => b.incoming.length === 2, 5000, 'the waiting call offered to B');
    const facts = await platform.journal.readCall(`agent:${bId}`);
    expect(facts.some((entry) => entry.fact.type === 'WrapUpEnded')).toBe(true);
  });
});

describe('REST rules', () => {
  it('lets a user change only their own state, an admin anyone’s', async () => {
    const bClient = await env.rest('b@example.com', 'secret-b');
    const cId = userId('c@example.com');
    for (const [path, body] of [
      [`/users/${cId}/availability`, { Availability: 'Busy' }],
      [`/users/${cId}/queues`, { QueueId: queueId('Sales'), Serving: false }],
      [`/users/${cId}/wrapup/end`, {}],
    ] as const) {
      const response = await bClient.post(path, body);
      expect(response.status, path).toBe(403);
      expect(response.body).toMatchObject({ Code: 'FORBIDDEN', Parameter: 'UserId' });
    }
    expect((await admin.get(`/users/${cId}/availability`)).body).toMatchObject({ Availability: 'Available' });
  });

  it('answers an unknown user with 404', async () => {
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const path of ['availability', 'queues', 'wrapup'])
      expect((await admin.get(`/users/${unknown}/${path}`)).status, path).toBe(404);
    expect((await admin.post(`/users/${unknown}/availability`, { Availability: 'Busy' })).status).toBe(404);
  });

  it('answers every bad input with a 400 naming the field', async () => {
    const cId = userId('c@example.com');
    const expect400 = async (
      response: Promise<{ status: number; body: unknown }>,
      parameter: string,
      message?: RegExp,
    ) => {
      const { status, body } = await response;
      expect(status, JSON.stringify(body)).toBe(400);
      expect((body as Json).Parameter).toBe(parameter);
      if (message) expect((body as Json).Message).toMatch(message);
    };
    const past = new Date(Date.now() - 60_000).toISOString();
    const future = new Date(Date.now() + 60_000).toISOString();
    await expect400(
      admin.post(`/users/${cId}/availability`, { Availability: 'Lunch' }),
      'Availability',
      /Available, Busy, DoNotDisturb, OffWork/,
    );
    await expect400(admin.post(`/users/${cId}/availability`, { Availability: 'available' }), 'Availability');
    await expect400(admin.post(`/users/${cId}/availability`, {}), 'Availability', /required/);
    await expect400(admin.post('/users/not-a-guid/availability', { Availability: 'Busy' }), 'UserId', /UUID/);
    await expect400(admin.get('/users/12345/availability'), 'UserId');
    await expect400(
      admin.post(`/users/${cId}/availability`, { Availability: 'Busy', EndTime: past }),
      'EndTime',
      /future/,
    );
    await expect400(
      admin.post(`/users/${cId}/availability`, { Availability: 'Busy', EndTime: 'tomorrow' }),
      'EndTime',
      /not a valid time/,
    );
    await expect400(
      admin.post(`/users/${cId}/availability`, { Availability: 'Available', EndTime: future }),
      'EndTime',
    );
    await expect400(
      admin.post(`/users/${cId}/availability`, { Availability: 'Busy', Note: 'x'.repeat(501) }),
      'Note',
      /500/,
    );
    await expect400(admin.post(`/users/${cId}/availability`, { Availability: 'Busy', Note: 42 }), 'Note');
    await expect400(
      admin.post(`/users/${cId}/queues`, { QueueId: 'nope', Serving: true }),
      'QueueId',
      /UUID/,
    );
    await expect400(
      admin.post(`/users/${cId}/queues`, { QueueId: queueId('Desk'), Serving: true }),
      'QueueId',
      /member/,
    );
    await expect400(
      admin.post(`/users/${cId}/queues`, { QueueId: queueId('Sales'), Serving: 'yes' }),
      'Serving',
    );
    await expect400(admin.post(`/users/${cId}/queues`, { QueueId: queueId('Sales') }), 'Serving');
    await expect400(admin.get('/queues', { OnlyForUser: 'c@example.com' }), 'OnlyForUser', /UUID/);
    // Nothing of it changed anything.
    expect((await admin.get(`/users/${cId}/availability`)).body).toMatchObject({
      Availability: 'Available',
      Modified: expect.any(String),
    });
    expect(((await admin.get(`/users/${cId}/queues`)).body as Json[]).every((queue) => queue.Serving)).toBe(
      true,
    );
    // A Note at the limit is fine.
    await setAvailability('c@example.com', { Availability: 'Busy', Note: 'x'.repeat(500), EndTime: future });
  });

  it('lists a user’s queues with OnlyForUser, and users carry the organization', async () => {
    const queues = await admin.list<Json>('/queues', { OnlyForUser: userId('c@example.com') });
    expect(queues.map((queue) => queue.Name)).toEqual(['Support', 'Sales']);
    expect(queues.every((queue) => queue.TypeId === 4)).toBe(true);
    expect(await admin.list('/queues', { OnlyForUser: '00000000-0000-4000-8000-000000000000' })).toEqual([]);
    const users = await admin.list<Json>('/users');
    const organizations = new Set(users.map((user) => user.OrganizationID));
    expect(organizations.size).toBe(1);
    expect([...organizations][0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect((await admin.get('/users/me')).body).toMatchObject({ OrganizationID: [...organizations][0] });
  });

  it('documents every new endpoint in the OpenAPI document', async () => {
    const response = await fetch(new URL('openapi.json', platform.httpUrl));
    const document = (await response.json()) as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: { name: string; in: string }[];
            requestBody?: unknown;
            responses: Record<string, unknown>;
          }
        >
      >;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const { paths } = document;
    for (const [path, methods] of Object.entries({
      '/users/{UserId}/availability': ['get', 'post'],
      '/users/{UserId}/queues': ['get', 'post'],
      '/users/{UserId}/wrapup': ['get'],
      '/users/{UserId}/wrapup/end': ['post'],
    })) {
      for (const method of methods) {
        const operation = paths[path]?.[method];
        expect(operation, `${method} ${path}`).toBeDefined();
        expect(Object.keys(operation!.responses)).toEqual(
          expect.arrayContaining(['200', '400', '401', '404']),
        );
        if (method === 'post') expect(Object.keys(operation!.responses)).toContain('403');
      }
    }
    const availabilityBody = JSON.stringify(paths['/users/{UserId}/availability']!.post!.requestBody);
    for (const field of ['Availability', 'Note', 'EndTime', 'DoNotDisturb', 'OffWork'])
      expect(availabilityBody).toContain(field);
    const availabilityResponse = JSON.stringify(paths['/users/{UserId}/availability']!.get!.responses['200']);
    for (const field of ['UserId', 'Availability', 'Note', 'EndTime', 'Modified'])
      expect(availabilityResponse).toContain(field);
    expect(JSON.stringify(paths['/users/{UserId}/queues']!.post!.requestBody)).toContain('Serving');
    expect(paths['/queues']!.get!.parameters?.map((parameter) => parameter.name)).toContain('OnlyForUser');
    const queue = document.components.schemas.Queue!;
    expect(Object.keys(queue.properties)).toEqual(expect.arrayContaining(['TypeId', 'Status']));
    const status = JSON.stringify(queue.properties.Status);
    for (const field of [
      'OpenStatus',
      'QueueLength',
      'MaxWaitTime',
      'OngoingCalls',
      'FreeAgents',
      'ServingAgents',
      'AgentsOnWrapUp',
    ])
      expect(status).toContain(field);
    expect(Object.keys(document.components.schemas.User!.properties)).toContain('OrganizationID');
    // The script-free reference lists them too.
    const docs = await (await fetch(new URL('docs', platform.httpUrl))).text();
    for (const path of [
      '/users/{UserId}/availability',
      '/users/{UserId}/queues',
      '/users/{UserId}/wrapup/end',
    ])
      expect(docs).toContain(path);
  });
});

describe('across a restart', () => {
  it('keeps availability, notes, EndTimes and serving; an EndTime that passed meanwhile ends at start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-availability-'));
    const start = async (): Promise<Platform> => {
      const httpPort = await freeTcpPort();
      return startPlatform({
        tenant: { ...tenant, publicUrl: `http://127.0.0.1:${httpPort}/` },
        dataDir,
        host: '127.0.0.1',
        httpPort,
        sipPort: 0,
        mediaDefault: 'off',
        apiRateLimits: { requests: { capacity: 10_000, refillPerSecond: 10_000 } },
        queueRetryDelayMs: 200,
      });
    };
    const opened: { close(): Promise<unknown> }[] = [];
    try {
      const first = await start();
      opened.push(first);
      let rest = await RestClient.signIn(first.httpUrl, 'admin@example.com', 'secret-admin');
      const [bId, cId, dId] = ['b@example.com', 'c@example.com', 'd@example.com'].map(userId) as [
        string,
        string,
        string,
      ];
      const far = new Date(Date.now() + 3_600_000).toISOString();
      const soon = new Date(Date.now() + 1000).toISOString();
      const setC = await rest.post(`/users/${cId}/availability`, {
        Availability: 'DoNotDisturb',
        Note: 'in a meeting',
        EndTime: far,
      });
      expect(setC.status).toBe(200);
      expect(
        (await rest.post(`/users/${dId}/availability`, { Availability: 'OffWork', EndTime: soon })).status,
      ).toBe(200);
      expect(
        (await rest.post(`/users/${bId}/queues`, { QueueId: queueId('Support'), Serving: false })).status,
      ).toBe(200);
      await first.close();
      opened.pop();
      await sleep(1200);

      const second = await start();
      opened.push(second);
      rest = await RestClient.signIn(second.httpUrl, 'admin@example.com', 'secret-admin');
      expect((await rest.get(`/users/${cId}/availability`)).body).toEqual(setC.body);
      expect((await rest.get(`/users/${dId}/availability`)).body).toMatchObject({
        Availability: 'Available',
        EndTime: null,
      });
      expect((await rest.get(`/users/${bId}/queues`)).body).toEqual([
        { QueueId: queueId('Support'), QueueName: 'Support', Serving: false },
        { QueueId: queueId('Desk'), QueueName: 'Desk', Serving: true },
      ]);
      // And call control allocates by it: with B not serving and C DoNotDisturb, Support has no one.
      const phones = await Promise.all(
        ['1001', '1002', '1003'].map(async (extension) => {
          const ua = await Ua.overWebSocket(second.wsUrl, {
            extension,
            password: tenant.users.find((user) => user.extension === extension)!.password,
            domain: DOMAIN,
          });
          opened.push(ua);
          expect((await ua.register()).status).toBe(200);
          return ua;
        }),
      );
      const [caller, bPhone, cPhone] = phones as [TestUa, TestUa, TestUa];
      const call = caller.call('100');
      await call.waitForProgress();
      await sleep(600);
      expect(bPhone.incoming.length + cPhone.incoming.length).toBe(0);
      await waitUntilAsync(
        async () => {
          const status = (await rest.list<Json>('/queues')).find((queue) => queue.Name === 'Support')!
            .Status as Json;
          return status.QueueLength === 1 && status.ServingAgents === 0;
        },
        3000,
        'Support shows one waiting call and no serving agent',
      );
      call.cancel();
      await call.waitForFinal();
      // The restored EndTime still ends C's DoNotDisturb when it comes (the timer is re-armed).
      const restored = second.agents.availabilityOf(cId);
      expect(restored.endTimeMs).toBe(Date.parse(far));
    } finally {
      for (const item of opened.reverse()) await item.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 30_000);
});
