/**
 * The rules of `decideOutbound` one by one, over a real tenant directory. The callback request
 * source is an in-memory map: the store behind it is tested by its own contract suite, and the
 * whole path (SIP, store, REST) by test/outbound.sipp.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createDirectory } from '../config/directory.js';
import { parseTenantYaml } from '../config/load.js';
import {
  type CallbackRequestSource,
  decideOutbound,
  type OutboundRequest,
  presentedNumber,
} from './outbound.js';

const directory = createDirectory(
  parseTenantYaml(
    `
domain: switchboard.local
users:
  - { username: a@example.com, extension: "1001", password: a }
  - { username: b@example.com, extension: "1002", password: b, permissions: [ { CallbackList: Support callbacks } ] }
  - { username: admin@example.com, extension: "1000", password: x, role: admin }
queues:
  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com], callbackList: Support callbacks }
  - { name: Internal, extension: "200", members: [a@example.com] }
callbackLists:
  - { name: Support callbacks, queue: Support }
`,
    'outbound.test.yaml',
  ),
);
const a = directory.userByExtension('1001')!;
const b = directory.userByExtension('1002')!;
const admin = directory.userByExtension('1000')!;
const support = directory.queueByReference('Support')!;
const list = directory.callbackListByName('Support callbacks')!;

const OPEN = '0c000000-0000-4000-8000-000000000001';
const CLOSED = '0c000000-0000-4000-8000-000000000002';
const ORPHAN = '0c000000-0000-4000-8000-000000000003';
const requests = new Map([
  [OPEN, { callbackListId: list.callbackListId, number: '+358501234567', status: 'Open' }],
  [CLOSED, { callbackListId: list.callbackListId, number: '+358501234567', status: 'ClosedBusy' }],
  [
    ORPHAN,
    { callbackListId: '0c000000-0000-4000-8000-0000000000ff', number: '+358501234567', status: 'Open' },
  ],
]);
const callbacks: CallbackRequestSource = { getCallbackRequest: async (id) => requests.get(id) };

/** `source: null` = call control was given no callback request source. */
const decide = (request: Partial<OutboundRequest>, source: CallbackRequestSource | null = callbacks) =>
  decideOutbound(
    {
      onBehalfOfQueue: undefined,
      callbackRequestId: undefined,
      callerUser: b,
      dialled: '+4930123456',
      ...request,
    },
    { directory, callbacks: source ?? undefined },
  );

/** `decideOutbound` refuses `request` with `status` (and a reason phrase, not checked here). */
async function expectRefused(
  request: Partial<OutboundRequest>,
  status: number,
  source: CallbackRequestSource | null = callbacks,
): Promise<void> {
  expect(await decide(request, source)).toMatchObject({ ok: false, status });
}

describe('decideOutbound: on behalf of a queue', () => {
  it('lets a member call for the queue named by name, id, extension or number', async () => {
    for (const reference of ['Support', 'support', support.queueId, '100', '+35810100100', ' Support ']) {
      expect(await decide({ onBehalfOfQueue: reference })).toEqual({
        ok: true,
        call: { kind: 'outbound-service', queue: support, dialled: '+4930123456' },
      });
    }
  });

  it('refuses a non-member (403), an unknown queue (404), a trunk (403) and both headers (400)', async () => {
    await expectRefused({ onBehalfOfQueue: 'Support', callerUser: a }, 403);
    // Even an admin must be a member to speak for a queue.
    await expectRefused({ onBehalfOfQueue: 'Support', callerUser: admin }, 403);
    await expectRefused({ onBehalfOfQueue: 'Billing' }, 404);
    await expectRefused({ onBehalfOfQueue: 'Support', callerUser: undefined }, 403);
    await expectRefused({ onBehalfOfQueue: 'Support', callbackRequestId: OPEN }, 400);
  });

  it("presents the queue's number, else its extension", () => {
    expect(presentedNumber(support)).toBe('+35810100100');
    expect(presentedNumber(directory.queueByReference('Internal')!)).toBe('200');
  });
});

describe('decideOutbound: callback calls', () => {
  it("calls an Open request's number for a user with the CallbackList permission", async () => {
    const expected = {
      ok: true,
      call: {
        kind: 'outbound-callback',
        queue: support,
        dialled: '+358501234567',
        callbackListId: list.callbackListId,
        callbackRequestId: OPEN,
      },
    };
    expect(await decide({ callbackRequestId: OPEN })).toEqual(expected);
    expect(await decide({ callbackRequestId: ` ${OPEN.toUpperCase()} `, callerUser: admin })).toEqual(
      expected,
    );
  });

  it('refuses what it must, with the status the issue names', async () => {
    expect(await decide({ callbackRequestId: OPEN, callerUser: a })).toEqual({
      ok: false,
      status: 403,
      reason: 'No CallbackList Permission',
    });
    expect(await decide({ callbackRequestId: CLOSED })).toEqual({
      ok: false,
      status: 403,
      reason: 'Callback Request Not Open',
    });
    for (const callbackRequestId of ['0c000000-0000-4000-8000-00000000dead', 'nonsense', '', ORPHAN]) {
      await expectRefused({ callbackRequestId }, 404);
    }
    await expectRefused({ callbackRequestId: OPEN, callerUser: undefined }, 403);
    await expectRefused({ callbackRequestId: OPEN }, 503, null);
  });

  it('passes a failing store on to call control as a rejection (it answers 500)', async () => {
    const failing: CallbackRequestSource = {
      getCallbackRequest: async () => {
        throw new Error('database is gone');
      },
    };
    await expect(decide({ callbackRequestId: OPEN }, failing)).rejects.toThrow('database is gone');
  });
});
