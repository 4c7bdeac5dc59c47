import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { builtinAudio } from '../media/prompts.js';
import { encodeWav, sineTone } from '../testing/audio.js';
import { demoTenant } from './demo.js';
import { ConfigError } from './errors.js';
import {
  deriveCallbackListId,
  deriveQueueId,
  deriveUserId,
  loadTenantFile,
  parseTenantYaml,
  publicUrlForPort,
  SWITCHBOARD_ID_NAMESPACE,
} from './load.js';
import { defaultQueueAudio, defaultSipSettings } from './schema.js';

/** Lines joined with '\n' so that each case's line numbers can be read off the array index + 1. */
const yaml = (...lines: string[]) => `${lines.join('\n')}\n`;

const USERS = [
  'users:', //                                     1
  '  - username: a@example.com', //                2
  '    extension: "1001"', //                      3
  '    password: secret-a', //                     4
  '  - username: b@example.com', //                5
  '    extension: "1002"', //                      6
  '    password: secret-b', //                     7
];

function errorOf(text: string): ConfigError {
  try {
    parseTenantYaml(text, 'tenant.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError, but the configuration loaded');
}

describe('parseTenantYaml: broken configurations name file, line, column and field', () => {
  const cases: Array<{ name: string; text: string; message: string }> = [
    {
      name: 'extension written as a YAML number',
      text: yaml(...USERS.slice(0, 5), '    extension: 1002', '    password: secret-b'),
      message:
        'tenant.yaml:6:16: users[1].extension: expected a string of digits, got a number: put the value in quotes',
    },
    {
      name: 'extension with a letter',
      text: yaml(...USERS.slice(0, 5), '    extension: "10a2"', '    password: secret-b'),
      message: 'tenant.yaml:6:16: users[1].extension: expected a string of digits',
    },
    {
      name: 'missing password points at the user',
      text: yaml(...USERS.slice(0, 6)),
      message: 'tenant.yaml:5:5: users[1].password: missing required field',
    },
    {
      name: 'username that is not an email address',
      text: yaml(...USERS.slice(0, 4), '  - username: bob', ...USERS.slice(5)),
      message: 'tenant.yaml:5:15: users[1].username: expected an email address (the REST login)',
    },
    {
      name: 'misspelt field, with a suggestion',
      text: yaml(...USERS, '    extention: "1003"'),
      message: "tenant.yaml:8:5: users[1].extention: unknown field; did you mean 'extension'?",
    },
    {
      name: 'unknown top-level field without a close match',
      text: yaml('colour: blue', ...USERS),
      message: 'tenant.yaml:1:1: colour: unknown field',
    },
    {
      name: 'unknown role',
      text: yaml(...USERS, '    role: supervisor'),
      message: 'tenant.yaml:8:11: users[1].role: expected agent or admin',
    },
    {
      name: 'id that is not a UUID',
      text: yaml(...USERS, '    id: user-b'),
      message: 'tenant.yaml:8:9: users[1].id: expected a UUID such as 0b6f1c9e-3f2a-4c1d-9e8b-2a7d5c4e1f00',
    },
    {
      name: 'phone number too short',
      text: yaml(...USERS, '    number: "+12"'),
      message:
        "tenant.yaml:8:13: users[1].number: expected a phone number: an optional '+' and 3 to 15 digits",
    },
    {
      name: 'unquoted phone number',
      text: yaml(...USERS, '    number: +358401000002'),
      message:
        'tenant.yaml:8:13: users[1].number: expected a phone number as a string, got a number: put the value in quotes',
    },
    {
      name: 'permission that is not a mapping',
      text: yaml(...USERS, '    permissions: [ServiceCalls]'),
      message:
        'tenant.yaml:8:19: users[1].permissions[0]: expected a mapping with one key (DirectCalls, AgentCalls, ServiceCalls or CallbackList), e.g. { ServiceCalls: Support }',
    },
    {
      name: 'permission of an unknown kind',
      text: yaml(
        ...USERS,
        '    permissions:',
        '      - ServiceCalls: Support',
        '      - QueueCalls: Support',
      ),
      message:
        'tenant.yaml:10:9: users[1].permissions[1].QueueCalls: unknown permission kind; expected DirectCalls, AgentCalls, ServiceCalls or CallbackList',
    },
    {
      name: 'permission with two keys',
      text: yaml(...USERS, '    permissions: [ { DirectCalls: a@example.com, AgentCalls: a@example.com } ]'),
      message:
        'tenant.yaml:8:20: users[1].permissions[0]: expected exactly one key per permission, got 2: write each permission as its own list item',
    },
    {
      name: 'permission target that does not exist',
      text: yaml(...USERS, '    permissions: [ { DirectCalls: a@example.com }, { ServiceCalls: Sales } ]'),
      message: 'tenant.yaml:8:68: users[1].permissions[1].ServiceCalls: no queue "Sales"',
    },
    {
      name: 'no users',
      text: yaml('users: []'),
      message: 'tenant.yaml:1:8: users: at least one user is required',
    },
    {
      name: 'empty file',
      text: '',
      message: 'tenant.yaml:1:1: expected a mapping with users, queues, callbackLists and trunks',
    },
    {
      name: 'queue strategy that does not exist',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    strategy: random'),
      message: 'tenant.yaml:10:15: queues[0].strategy: expected sequential, longest-idle or ring-all',
    },
    {
      name: 'timeout of zero',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    allocationTimeoutSeconds: 0'),
      message: 'tenant.yaml:10:31: queues[0].allocationTimeoutSeconds: must be at least 1',
    },
    {
      name: 'fractional wrap-up time',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    wrapUpSeconds: 2.5'),
      message: 'tenant.yaml:10:20: queues[0].wrapUpSeconds: expected a whole number of seconds',
    },
    {
      name: 'recordOutbound that is not a boolean',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    recordOutbound: yes'),
      message: 'tenant.yaml:10:21: queues[0].recordOutbound: expected true or false',
    },
    {
      name: 'trunk over a transport SIP has no use for',
      text: yaml(...USERS, 'trunks:', '  - { name: pstn, host: 10.0.0.1, transport: sctp }'),
      message: 'tenant.yaml:9:46: trunks[0].transport: expected udp, tcp or tls',
    },
    {
      name: 'auth throttle that never lets a failure through',
      text: yaml('sip: { authThrottle: { maxFailures: 0 } }', ...USERS),
      message: 'tenant.yaml:1:37: sip.authThrottle.maxFailures: must be at least 1',
    },
    {
      name: 'auth throttle cooldown in fractions',
      text: yaml('sip:', '  authThrottle:', '    cooldownSeconds: 2.5', ...USERS),
      message: 'tenant.yaml:3:22: sip.authThrottle.cooldownSeconds: expected a whole number of seconds',
    },
    {
      name: 'auth throttle window beyond a day',
      text: yaml('sip:', '  authThrottle:', '    windowSeconds: 100000', ...USERS),
      message: 'tenant.yaml:3:20: sip.authThrottle.windowSeconds: must be at most 86400 (one day)',
    },
    {
      name: 'misspelt auth throttle field, with a suggestion',
      text: yaml('sip: { authThrottle: { maxFailure: 5 } }', ...USERS),
      message: "tenant.yaml:1:24: sip.authThrottle.maxFailure: unknown field; did you mean 'maxFailures'?",
    },
    {
      name: 'auth throttle that is not a mapping',
      text: yaml('sip: { authThrottle: 10 }', ...USERS),
      message:
        'tenant.yaml:1:22: sip.authThrottle: expected a mapping such as { maxFailures: 10, windowSeconds: 60, cooldownSeconds: 300 }',
    },
    {
      name: 'media engine address without a port',
      text: yaml('media: { rtpengine: "127.0.0.1" }', ...USERS),
      message:
        'tenant.yaml:1:21: media.rtpengine: expected off or HOST:PORT (e.g. 127.0.0.1:22222), got "127.0.0.1"',
    },
    {
      name: 'media engine port out of range',
      text: yaml('media: { rtpengine: "127.0.0.1:70000" }', ...USERS),
      message:
        'tenant.yaml:1:21: media.rtpengine: expected off or HOST:PORT (e.g. 127.0.0.1:22222), got "127.0.0.1:70000"',
    },
    {
      name: 'misspelt sip field, with a suggestion',
      text: yaml('sip: { tcpp: { maxConnections: 10 } }', ...USERS),
      message: "tenant.yaml:1:8: sip.tcpp: unknown field; did you mean 'tcp'?",
    },
    {
      name: 'tcp connection cap as text',
      text: yaml('sip: { tcp: { maxConnections: many } }', ...USERS),
      message: 'tenant.yaml:1:31: sip.tcp.maxConnections: expected a whole number',
    },
    {
      name: 'tcp stall timeout of zero',
      text: yaml('sip: { tcp: { stallTimeoutSeconds: 0 } }', ...USERS),
      message: 'tenant.yaml:1:36: sip.tcp.stallTimeoutSeconds: must be at least 1',
    },
    {
      name: 'largeRequestsOverTcp that is not a boolean',
      text: yaml('sip: { largeRequestsOverTcp: yes }', ...USERS),
      message: 'tenant.yaml:1:30: sip.largeRequestsOverTcp: expected true or false',
    },
    {
      name: 'sip that is not a mapping',
      text: yaml('sip: udp', ...USERS),
      message:
        'tenant.yaml:1:6: sip: expected a mapping with authThrottle, tcp, largeRequestsOverTcp and trustedProxies',
    },
    {
      name: 'a trusted proxy that is no IP address',
      text: yaml('sip: { trustedProxies: [kamailio.local] }', ...USERS),
      message: 'tenant.yaml:1:25: sip.trustedProxies[0]: expected an IP address such as 10.0.0.5',
    },
    {
      name: 'trunk port out of range',
      text: yaml(...USERS, 'trunks:', '  - name: pstn', '    host: 10.0.0.1', '    port: 70000'),
      message: 'tenant.yaml:11:11: trunks[0].port: expected a port number from 1 to 65535',
    },
    {
      name: 'publicUrl that is not http',
      text: yaml('publicUrl: ftp://example.com/', ...USERS),
      message: 'tenant.yaml:1:12: publicUrl: expected an http:// or https:// URL',
    },
    {
      name: 'postProcessing delay as text',
      text: yaml('postProcessing: { delaySeconds: soon }', ...USERS),
      message: 'tenant.yaml:1:33: postProcessing.delaySeconds: expected a number of seconds',
    },
    {
      name: 'YAML syntax: unclosed flow sequence',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    members: [a@example.com', 'trunks: []'),
      message:
        'tenant.yaml:11:1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    },
    {
      name: 'YAML syntax: a bare * for "all"',
      text: yaml(...USERS, '    permissions: [ { AgentCalls: * } ]'),
      message: 'tenant.yaml:8:34: Alias cannot be an empty string; to mean "all", write "*" in quotes',
    },
    {
      name: 'YAML syntax: duplicate key',
      text: yaml(...USERS, '    password: again'),
      message: 'tenant.yaml:8:5: Map keys must be unique',
    },
    {
      name: 'duplicate extension across a user and a queue',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    extension: "1002"'),
      message:
        'tenant.yaml:10:16: queues[0].extension: duplicate extension "1002": already the extension of user b@example.com (line 6)',
    },
    {
      name: 'duplicate extension between users',
      text: yaml(...USERS.slice(0, 5), '    extension: "1001"', '    password: secret-b'),
      message:
        'tenant.yaml:6:16: users[1].extension: duplicate extension "1001": already the extension of user a@example.com (line 3)',
    },
    {
      name: 'duplicate number, with and without +',
      text: yaml(
        ...USERS,
        '    number: "358401000001"',
        'queues:',
        '  - name: Support',
        '    number: "+358401000001"',
      ),
      message:
        'tenant.yaml:11:13: queues[0].number: duplicate number "+358401000001": already the number of user b@example.com (line 8)',
    },
    {
      name: 'duplicate username, ignoring case',
      text: yaml(...USERS.slice(0, 4), '  - username: A@Example.com', ...USERS.slice(5)),
      message:
        'tenant.yaml:5:15: users[1].username: duplicate username "A@Example.com": already the username of users[0] (line 2)',
    },
    {
      name: 'duplicate queue name',
      text: yaml(...USERS, 'queues:', '  - name: Support', '  - name: support'),
      message:
        'tenant.yaml:10:11: queues[1].name: duplicate queue name "support": already the name of queues[0] (line 9)',
    },
    {
      name: 'duplicate callback list name',
      text: yaml(
        ...USERS,
        'queues: [ { name: Support } ]',
        'callbackLists:',
        '  - { name: Callbacks, queue: Support }',
        '  - { name: Callbacks, queue: Support }',
      ),
      message:
        'tenant.yaml:11:13: callbackLists[1].name: duplicate callback list name "Callbacks": already the name of callbackLists[0] (line 10)',
    },
    {
      name: 'duplicate explicit id',
      text: yaml(
        ...USERS,
        '    id: 0B6F1C9E-3F2A-4C1D-9E8B-2A7D5C4E1F00',
        'queues:',
        '  - name: Support',
        '    id: 0b6f1c9e-3f2a-4c1d-9e8b-2a7d5c4e1f00',
      ),
      message:
        'tenant.yaml:11:9: queues[0].id: duplicate id "0b6f1c9e-3f2a-4c1d-9e8b-2a7d5c4e1f00": already the id of user b@example.com (line 8)',
    },
    {
      name: 'queue member that is not a user',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    members: [b@example.com, d@example.com]'),
      message: 'tenant.yaml:10:30: queues[0].members[1]: "d@example.com" is not a user',
    },
    {
      name: 'queue member listed twice',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    members: [b@example.com, B@example.com]'),
      message:
        'tenant.yaml:10:30: queues[0].members[1]: "B@example.com" is listed twice (also queues[0].members[0])',
    },
    {
      name: 'callback list member that is not a user',
      text: yaml(
        ...USERS,
        'queues: [ { name: Support } ]',
        'callbackLists:',
        '  - name: Callbacks',
        '    queue: Support',
        '    members: [zed@example.com]',
      ),
      message: 'tenant.yaml:12:15: callbackLists[0].members[0]: "zed@example.com" is not a user',
    },
    {
      name: 'queue referring to a callback list that does not exist',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    callbackList: Support callbacks'),
      message: 'tenant.yaml:10:19: queues[0].callbackList: no callback list named "Support callbacks"',
    },
    {
      name: 'callback list referring to a queue that does not exist',
      text: yaml(...USERS, 'callbackLists:', '  - name: Callbacks', '    queue: Sales'),
      message: 'tenant.yaml:10:12: callbackLists[0].queue: no queue named "Sales"',
    },
    {
      name: 'callback list without a queue',
      text: yaml(...USERS, 'callbackLists:', '  - name: Callbacks'),
      message: 'tenant.yaml:9:5: callbackLists[0].queue: missing required field',
    },
    {
      name: 'overflow to nothing',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    overflow: the void'),
      message: 'tenant.yaml:10:15: queues[0].overflow: "the void" is not a user, a queue or a phone number',
    },
    {
      name: 'overflow to itself by extension',
      text: yaml(...USERS, 'queues:', '  - name: Support', '    extension: "100"', '    overflow: "100"'),
      message: 'tenant.yaml:11:15: queues[0].overflow: a queue cannot overflow to itself',
    },
    {
      name: 'overflow to a queue that cannot be dialled',
      text: yaml(
        ...USERS,
        'queues:',
        '  - name: Support',
        '    overflow: Back office',
        '  - name: Back office',
      ),
      message:
        'tenant.yaml:10:15: queues[0].overflow: queue "Back office" has neither an extension nor a number',
    },
    {
      name: 'duplicate trunk address',
      text: yaml(
        ...USERS,
        'trunks:',
        '  - { name: a, host: 10.0.0.1 }',
        '  - { name: b, host: 10.0.0.1, port: 5060 }',
      ),
      message:
        'tenant.yaml:10:22: trunks[1].host: duplicate trunk address 10.0.0.1:5060: already the address of trunk a (line 9)',
    },
  ];

  it.each(cases)('$name', ({ text, message }) => {
    const error = errorOf(text);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toBe(message);
    expect(error.problems).toHaveLength(1);
  });

  it('reports every problem of a file, one per line, in file order', () => {
    const text = yaml(
      'users:', //                                        1
      '  - username: a@example.com', //                   2
      '    extension: 1001', //                           3
      '    password: secret-a', //                        4
      '    colour: blue', //                              5
      '  - username: not-an-email', //                    6
      '    extension: "1002"', //                         7
      'queues:', //                                       8
      '  - name: Support', //                             9
      '    strategy: random', //                          10
    );
    const error = errorOf(text);
    expect(error.message.split('\n')).toEqual([
      'tenant.yaml:3:16: users[0].extension: expected a string of digits, got a number: put the value in quotes',
      'tenant.yaml:5:5: users[0].colour: unknown field',
      'tenant.yaml:6:5: users[1].password: missing required field',
      'tenant.yaml:6:15: users[1].username: expected an email address (the REST login)',
      'tenant.yaml:10:15: queues[0].strategy: expected sequential, longest-idle or ring-all',
    ]);
    expect(error.problems.map((problem) => problem.code)).toEqual([
      'INVALID_VALUE',
      'UNKNOWN_FIELD',
      'MISSING_FIELD',
      'INVALID_VALUE',
      'INVALID_VALUE',
    ]);
    expect(error.problems[0]).toEqual({
      code: 'INVALID_VALUE',
      source: 'tenant.yaml',
      line: 3,
      column: 16,
      path: 'users[0].extension',
      message: 'expected a string of digits, got a number: put the value in quotes',
    });
  });

  it('reports every cross-reference problem together', () => {
    const text = yaml(
      ...USERS,
      '    permissions: [ { AgentCalls: nobody@example.com } ]', // 8
      'queues:', //                                                9
      '  - name: Support', //                                      10
      '    extension: "1001"', //                                  11
      '    members: [c@example.com]', //                           12
      '    callbackList: Missing', //                              13
    );
    expect(errorOf(text).message.split('\n')).toEqual([
      'tenant.yaml:8:34: users[1].permissions[0].AgentCalls: no user "nobody@example.com"',
      'tenant.yaml:11:16: queues[0].extension: duplicate extension "1001": already the extension of user a@example.com (line 3)',
      'tenant.yaml:12:15: queues[0].members[0]: "c@example.com" is not a user',
      'tenant.yaml:13:19: queues[0].callbackList: no callback list named "Missing"',
    ]);
  });

  it('reports several YAML syntax errors with their lines', () => {
    const error = errorOf(yaml(...USERS, '    password: again', 'queues:', '  - name: [Support'));
    expect(error.problems.map((problem) => [problem.code, problem.line])).toEqual([
      ['YAML_SYNTAX', 8],
      // An unclosed flow sequence is reported where its ']' was expected: the end of the file.
      ['YAML_SYNTAX', 11],
    ]);
  });

  it('never lets non-ConfigError exceptions escape on hostile input', () => {
    const inputs = [
      '- just\n- a list\n',
      'users: "everyone"\n',
      'users:\n  - 42\n',
      'users:\n  - username: a@example.com\n    extension: "1"\n    password: x\n    permissions: {DirectCalls: x}\n',
      'a: &x [*x]\n',
      '{{{{',
      '\t\tusers:',
      'users: !!binary aGVsbG8=\n',
      'users:\n  - &u {username: a@example.com, extension: "1", password: p}\n  - *u\n',
    ];
    for (const input of inputs) {
      expect(() => parseTenantYaml(input, 'x.yaml'), input).toThrow(ConfigError);
    }
  });
});

describe('parseTenantYaml: a valid configuration', () => {
  const text = yaml(
    'domain: pbx.example.org',
    'publicUrl: https://pbx.example.org/switchboard',
    'postProcessing: { delaySeconds: 10 }',
    'users:',
    '  - username: A@Example.com',
    '    extension: "1001"',
    '    password: secret-a',
    '    number: "+358401000001"',
    '    displayName: Anna',
    '    permissions:',
    '      - DirectCalls: b@example.com',
    '      - AgentCalls: "*"',
    '      - ServiceCalls: support',
    '      - CallbackList: Support callbacks',
    '  - username: b@example.com',
    '    extension: "1002"',
    '    password: secret-b',
    '    id: 0B6F1C9E-3F2A-4C1D-9E8B-2A7D5C4E1F00',
    '    role: admin',
    '    permissions: [ { DirectCalls: 52ce0389-bf44-5724-b995-4595d4b1395e } ]',
    'queues:',
    '  - name: Support',
    '    extension: "100"',
    '    number: "+35810100100"',
    '    members: [b@example.com, a@example.com]',
    '    strategy: ring-all',
    '    wrapUpSeconds: 5',
    '    recordOutbound: true',
    '    callbackList: Support callbacks',
    '    overflow: Back office',
    '  - name: Back office',
    '    id: 11111111-2222-3333-4444-555555555555',
    '    number: "+35810100200"',
    '    overflow: a@example.com',
    '  - name: Night',
    '    overflow: "+358409999999"',
    'callbackLists:',
    '  - name: Support callbacks',
    '    queue: Support',
    '    members: [a@example.com]',
    'trunks:',
    '  - name: pstn',
    '    host: 10.0.0.1',
  );
  const tenant = parseTenantYaml(text, 'tenant.yaml');
  const [a, b] = tenant.users;
  const [support, backOffice, night] = tenant.queues;

  it('derives ids as UUID v5 in the Switchboard namespace, independent of username case', () => {
    // Computed independently: Python's uuid.uuid5(UUID(namespace), 'user:a@example.com').
    expect(SWITCHBOARD_ID_NAMESPACE).toBe('5275084d-b4b5-493b-9a31-400a1c826aae');
    expect(a?.userId).toBe('52ce0389-bf44-5724-b995-4595d4b1395e');
    expect(deriveUserId('A@EXAMPLE.COM')).toBe('52ce0389-bf44-5724-b995-4595d4b1395e');
    expect(support?.queueId).toBe('38d6f489-2820-58b2-b723-0ffcf7173275');
    expect(deriveQueueId('Support')).toBe('38d6f489-2820-58b2-b723-0ffcf7173275');
    expect(tenant.callbackLists[0]?.callbackListId).toBe('8a7057fa-26cb-5de5-928a-efd132859d6b');
    expect(deriveCallbackListId('Support callbacks')).toBe('8a7057fa-26cb-5de5-928a-efd132859d6b');
  });

  it('keeps configured ids, lowercased', () => {
    expect(b?.userId).toBe('0b6f1c9e-3f2a-4c1d-9e8b-2a7d5c4e1f00');
    expect(backOffice?.queueId).toBe('11111111-2222-3333-4444-555555555555');
  });

  it('keeps top-level settings and normalizes publicUrl to end with /', () => {
    expect(tenant.domain).toBe('pbx.example.org');
    expect(tenant.publicUrl).toBe('https://pbx.example.org/switchboard/');
    expect(tenant.postProcessing).toEqual({ delaySeconds: 10 });
    expect(tenant.sourcePath).toBeUndefined();
  });

  it('resolves users, with optional fields only when given', () => {
    expect(a).toMatchObject({
      username: 'A@Example.com',
      extension: '1001',
      password: 'secret-a',
      number: '+358401000001',
      displayName: 'Anna',
      role: 'agent',
    });
    expect(b?.role).toBe('admin');
    expect(b && 'number' in b).toBe(false);
    expect(b && 'displayName' in b).toBe(false);
  });

  it('resolves permission targets by username, name, id or *', () => {
    expect(a?.grants.directCalls).toEqual(new Set([b?.userId]));
    expect(a?.grants.agentCalls).toEqual(new Set(['*']));
    expect(a?.grants.serviceCalls).toEqual(new Set([support?.queueId]));
    expect(a?.grants.callbackLists).toEqual(new Set([tenant.callbackLists[0]?.callbackListId]));
    expect(b?.grants.directCalls).toEqual(new Set([a?.userId]));
  });

  it('resolves queue members in configured order, and queue settings', () => {
    expect(support).toMatchObject({
      name: 'Support',
      extension: '100',
      number: '+35810100100',
      memberUserIds: [b?.userId, a?.userId],
      strategy: 'ring-all',
      allocationTimeoutSeconds: 15,
      maxWaitSeconds: 120,
      wrapUpSeconds: 5,
      recordOutbound: true,
      callbackListId: tenant.callbackLists[0]?.callbackListId,
    });
    expect(tenant.callbackLists[0]).toEqual({
      callbackListId: '8a7057fa-26cb-5de5-928a-efd132859d6b',
      name: 'Support callbacks',
      queueId: support?.queueId,
      memberUserIds: [a?.userId],
    });
  });

  it('resolves overflow targets to something dialable', () => {
    expect(support?.overflowTarget).toBe('+35810100200'); // a queue without extension: its number
    expect(backOffice?.overflowTarget).toBe('1001'); // a user: the extension
    expect(night?.overflowTarget).toBe('+358409999999'); // an external number, as written
  });

  it('applies defaults', () => {
    expect(backOffice).toMatchObject({
      memberUserIds: [],
      strategy: 'sequential',
      allocationTimeoutSeconds: 15,
      maxWaitSeconds: 120,
      wrapUpSeconds: 0,
      recordOutbound: false,
    });
    expect(backOffice && 'callbackListId' in backOffice).toBe(false);
    expect(tenant.trunks).toEqual([{ name: 'pstn', host: '10.0.0.1', port: 5060, transport: 'udp' }]);

    const minimal = parseTenantYaml(yaml(...USERS), 'min.yaml');
    expect(minimal.domain).toBe('switchboard.local');
    expect(minimal.publicUrl).toBe('http://127.0.0.1:8080/');
    expect(minimal.postProcessing).toEqual({ delaySeconds: 0 });
    expect(minimal.queues).toEqual([]);
    expect(minimal.callbackLists).toEqual([]);
    expect(minimal.trunks).toEqual([]);
    expect(minimal.users[0]?.role).toBe('agent');
  });

  it('takes publicUrl from the caller when the file has none', () => {
    const fromPort = parseTenantYaml(yaml(...USERS), 'min.yaml', {
      defaultPublicUrl: publicUrlForPort(9090),
    });
    expect(fromPort.publicUrl).toBe('http://127.0.0.1:9090/');
    const fileWins = parseTenantYaml(yaml('publicUrl: http://pbx:80', ...USERS), 'x.yaml', {
      defaultPublicUrl: 'http://other:1/',
    });
    expect(fileWins.publicUrl).toBe('http://pbx/');
  });

  it('applies the SIP defaults, also to the demo tenant', () => {
    const defaults = {
      authThrottle: { maxFailures: 10, windowSeconds: 60, cooldownSeconds: 300 },
      tcp: {
        maxConnections: 2048,
        idleTimeoutSeconds: 900,
        firstMessageTimeoutSeconds: 30,
        stallTimeoutSeconds: 20,
      },
      largeRequestsOverTcp: false,
      trustedProxies: [],
    };
    expect(tenant.sip).toEqual(defaults);
    expect(parseTenantYaml(yaml(...USERS), 'min.yaml').sip).toEqual(defaults);
    expect(parseTenantYaml(yaml('sip: {}', ...USERS), 'x.yaml').sip).toEqual(defaults);
    expect(parseTenantYaml(yaml('sip:', '  tcp: {}', ...USERS), 'x.yaml').sip).toEqual(defaults);
    expect(demoTenant({ publicUrl: 'http://127.0.0.1:8080/' }).sip).toEqual(defaults);
    expect(defaultSipSettings()).toEqual(defaults);
    // Each tenant gets its own objects.
    expect(defaultSipSettings().tcp).not.toBe(defaultSipSettings().tcp);
  });

  it('takes SIP settings from the file, each field defaulting on its own', () => {
    const loaded = parseTenantYaml(
      yaml(
        'sip:',
        '  authThrottle: { maxFailures: 5, cooldownSeconds: 600 }',
        '  tcp:',
        '    maxConnections: 100',
        '    idleTimeoutSeconds: 60',
        '  largeRequestsOverTcp: true',
        '  trustedProxies: [10.0.0.5, "::1"]',
        ...USERS,
      ),
      'x.yaml',
    );
    expect(loaded.sip).toEqual({
      authThrottle: { maxFailures: 5, windowSeconds: 60, cooldownSeconds: 600 },
      tcp: {
        maxConnections: 100,
        idleTimeoutSeconds: 60,
        firstMessageTimeoutSeconds: 30,
        stallTimeoutSeconds: 20,
      },
      largeRequestsOverTcp: true,
      trustedProxies: ['10.0.0.5', '::1'],
    });
  });

  it('accepts trunks over udp, tcp and tls (udp by default)', () => {
    const loaded = parseTenantYaml(
      yaml(
        ...USERS,
        'trunks:',
        '  - { name: a, host: 10.0.0.1 }',
        '  - { name: b, host: 10.0.0.2, transport: tcp }',
        '  - { name: c, host: 10.0.0.3, port: 5061, transport: tls }',
      ),
      'x.yaml',
    );
    expect(loaded.trunks.map((trunk) => [trunk.name, trunk.port, trunk.transport])).toEqual([
      ['a', 5060, 'udp'],
      ['b', 5060, 'tcp'],
      ['c', 5061, 'tls'],
    ]);
  });

  it('reads the media engine: HOST:PORT (IPv6 in brackets), off, and the recording directory; absent by default', () => {
    const at = (value: string) =>
      parseTenantYaml(
        yaml(`media: { rtpengine: "${value}", recordingDir: /var/spool/rtp }`, ...USERS),
        'x.yaml',
      ).media;
    expect(at('127.0.0.1:22222')).toEqual({
      rtpengine: { host: '127.0.0.1', port: 22222 },
      recordingDir: '/var/spool/rtp',
    });
    expect(at('[::1]:2223')?.rtpengine).toEqual({ host: '::1', port: 2223 });
    expect(at('media.example.com:2223')?.rtpengine).toEqual({ host: 'media.example.com', port: 2223 });
    expect(parseTenantYaml(yaml('media: { rtpengine: off }', ...USERS), 'x.yaml').media).toEqual({
      rtpengine: 'off',
    });
    expect(parseTenantYaml(yaml(...USERS), 'x.yaml').media).toBeUndefined();
  });

  it('treats an empty optional field as absent', () => {
    const loaded = parseTenantYaml(yaml(...USERS, '    number:', '    displayName: ~'), 'x.yaml');
    expect(loaded.users[1] && 'number' in loaded.users[1]).toBe(false);
    expect(loaded.users[1] && 'displayName' in loaded.users[1]).toBe(false);
  });

  it('gives the same ids on every load', () => {
    const again = parseTenantYaml(text, 'tenant.yaml');
    expect(again.users.map((user) => user.userId)).toEqual(tenant.users.map((user) => user.userId));
    expect(again.queues.map((queue) => queue.queueId)).toEqual(tenant.queues.map((queue) => queue.queueId));
  });
});

describe('publicUrlForPort', () => {
  it('builds a loopback URL for wildcard hosts and brackets IPv6', () => {
    expect(publicUrlForPort(8080)).toBe('http://127.0.0.1:8080/');
    expect(publicUrlForPort(8080, '0.0.0.0')).toBe('http://127.0.0.1:8080/');
    expect(publicUrlForPort(8080, '::')).toBe('http://127.0.0.1:8080/');
    expect(publicUrlForPort(8080, '::1')).toBe('http://[::1]:8080/');
    expect(publicUrlForPort(8443, 'pbx.example.org')).toBe('http://pbx.example.org:8443/');
  });
});

describe('loadTenantFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a file and records where it came from', () => {
    const path = join(dir, 'tenant.yaml');
    writeFileSync(path, yaml(...USERS));
    const tenant = loadTenantFile(path, { defaultPublicUrl: 'http://10.1.2.3:8080/' });
    expect(tenant.sourcePath).toBe(resolve(path));
    expect(tenant.publicUrl).toBe('http://10.1.2.3:8080/');
    expect(tenant.users.map((user) => user.username)).toEqual(['a@example.com', 'b@example.com']);
  });

  it('names the file as given in every message', () => {
    const path = join(dir, 'broken.yaml');
    writeFileSync(path, yaml(...USERS.slice(0, 5), '    extension: "x"', '    password: p'));
    expect(() => loadTenantFile(path)).toThrow(
      `${path}:6:16: users[1].extension: expected a string of digits`,
    );
  });

  it('reports an unreadable file as CONFIG_UNREADABLE', () => {
    const path = join(dir, 'missing.yaml');
    let caught: unknown;
    try {
      loadTenantFile(path);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).code).toBe('CONFIG_UNREADABLE');
    expect((caught as ConfigError).message).toMatch(
      new RegExp(
        `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read the configuration file: ENOENT`,
      ),
    );
  });
});

describe('queue and tenant audio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-config-audio-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tone = encodeWav(sineTone({ frequency: 440, sampleRate: 8000, durationMs: 500 }), 8000);
  const audioDir = join(dir, 'audio');
  mkdirSync(audioDir);
  const hello = join(audioDir, 'hello.wav');
  const hold = join(audioDir, 'hold.wav');
  const whisper = join(audioDir, 'whisper.wav');
  const stereo = join(audioDir, 'stereo.wav');
  const text = join(audioDir, 'notes.wav');
  for (const path of [hello, hold, whisper]) writeFileSync(path, tone);
  // Stereo: the same file with 2 channels and a block align of 4.
  const stereoWav = Buffer.from(tone);
  stereoWav.writeUInt16LE(2, 22);
  stereoWav.writeUInt32LE(8000 * 4, 28);
  stereoWav.writeUInt16LE(4, 32);
  writeFileSync(stereo, stereoWav);
  writeFileSync(text, 'just some notes\n');
  mkdirSync(join(audioDir, 'folder.wav'));

  const QUEUE = [
    'queues:', //                                  8
    '  - name: Support', //                        9
  ];

  function errorAt(yamlText: string, opts: { baseDir?: string } = {}): ConfigError {
    try {
      parseTenantYaml(yamlText, 'tenant.yaml', opts);
    } catch (error) {
      if (error instanceof ConfigError) return error;
      throw error;
    }
    throw new Error('expected a ConfigError, but the configuration loaded');
  }

  it('fills the defaults for every queue, and the tenant-wide music on hold', () => {
    const tenant = parseTenantYaml(yaml(...USERS, ...QUEUE), 'x.yaml');
    expect(tenant.queues[0]?.audio).toEqual(defaultQueueAudio());
    expect(defaultQueueAudio()).toEqual({
      greeting: builtinAudio.greeting,
      musicOnHold: builtinAudio.music,
      announcePosition: false,
      announceEverySeconds: 30,
      ringWhileWaiting: false,
    });
    expect('whisper' in defaultQueueAudio()).toBe(false);
    expect(defaultQueueAudio()).not.toBe(defaultQueueAudio());
    expect(tenant.audio).toEqual({ musicOnHold: builtinAudio.music });
  });

  it('reads every key, resolving relative paths against baseDir', () => {
    const tenant = parseTenantYaml(
      yaml(
        'audio:',
        '  musicOnHold: audio/hold.wav',
        ...USERS,
        ...QUEUE,
        '    greeting: audio/hello.wav',
        `    musicOnHold: ${hold}`,
        '    announcePosition: true',
        '    announceEverySeconds: 45',
        '    whisper: ./audio/../audio/whisper.wav',
        '    ringWhileWaiting: true',
        '  - name: Sales',
        '    greeting: None',
      ),
      'x.yaml',
      { baseDir: dir },
    );
    expect(tenant.audio).toEqual({ musicOnHold: hold });
    expect(tenant.queues[0]?.audio).toEqual({
      greeting: hello,
      musicOnHold: hold,
      announcePosition: true,
      announceEverySeconds: 45,
      whisper,
      ringWhileWaiting: true,
    });
    expect(tenant.queues[1]?.audio).toEqual({ ...defaultQueueAudio(), greeting: null });
  });

  it('treats empty audio fields as absent (the defaults)', () => {
    const tenant = parseTenantYaml(
      yaml(
        'audio: {}',
        ...USERS,
        ...QUEUE.slice(0, 1),
        '  - name: Support',
        '    greeting:',
        '    whisper: ~',
      ),
      'x.yaml',
    );
    expect(tenant.queues[0]?.audio).toEqual(defaultQueueAudio());
    expect(tenant.audio).toEqual({ musicOnHold: builtinAudio.music });
  });

  it("resolves against the working directory without baseDir, and the file's directory in loadTenantFile", () => {
    const fromCwd = parseTenantYaml(
      yaml(...USERS, ...QUEUE, `    greeting: ${relative(process.cwd(), hello)}`),
      'x.yaml',
    );
    expect(fromCwd.queues[0]?.audio?.greeting).toBe(hello);
    const configPath = join(dir, 'tenant.yaml');
    writeFileSync(
      configPath,
      yaml(...USERS, ...QUEUE, '    greeting: audio/hello.wav', '    whisper: audio/whisper.wav'),
    );
    const loaded = loadTenantFile(configPath);
    expect(loaded.queues[0]?.audio?.greeting).toBe(hello);
    expect(loaded.queues[0]?.audio?.whisper).toBe(whisper);
    // An explicit baseDir wins.
    expect(() => loadTenantFile(configPath, { baseDir: audioDir })).toThrow(
      `queue "Support": cannot read ${join(audioDir, 'audio', 'hello.wav')}: no such file`,
    );
  });

  it('reports a file that is missing, a directory, stereo or not audio: line, field, queue, path and reason', () => {
    const missing = join(dir, 'nowhere', 'x.wav');
    const error = errorAt(
      yaml(
        'audio: { musicOnHold: audio/missing.wav }', //   1
        ...USERS, //                                      2-8
        ...QUEUE, //                                      9-10
        `    greeting: ${missing}`, //                    11
        '    musicOnHold: audio/folder.wav', //           12
        '    whisper: audio/stereo.wav', //               13
        '  - name: Sales', //                             14
        '    musicOnHold: audio/notes.wav', //            15
      ),
      { baseDir: dir },
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message.split('\n')).toEqual([
      `tenant.yaml:1:23: audio.musicOnHold: cannot read ${join(audioDir, 'missing.wav')}: no such file`,
      `tenant.yaml:11:15: queues[0].greeting: queue "Support": cannot read ${missing}: no such file`,
      `tenant.yaml:12:18: queues[0].musicOnHold: queue "Support": cannot read ${join(audioDir, 'folder.wav')}: is a directory, not a file`,
      `tenant.yaml:13:14: queues[0].whisper: queue "Support": ${stereo} is not a usable audio file: must be mono (it has 2 channels); convert it, e.g. sox in.wav -c 1 out.wav`,
      `tenant.yaml:15:18: queues[1].musicOnHold: queue "Sales": ${text} is not a usable audio file: neither a WAV (RIFF/WAVE) nor an MP3 file (it starts with "just som")`,
    ]);
    expect(error.problems.every((problem) => problem.code === 'AUDIO_FILE')).toBe(true);
  });

  it('reports a file shared by several queues at each of them', () => {
    const error = errorAt(
      yaml(
        ...USERS,
        ...QUEUE,
        '    musicOnHold: audio/gone.wav',
        '  - name: Sales',
        '    musicOnHold: audio/gone.wav',
      ),
      { baseDir: dir },
    );
    expect(error.problems.map((problem) => [problem.line, problem.path])).toEqual([
      [10, 'queues[0].musicOnHold'],
      [12, 'queues[1].musicOnHold'],
    ]);
  });

  it.each([
    {
      name: 'an announcement interval below 10 s',
      line: '    announceEverySeconds: 5',
      message: 'tenant.yaml:10:27: queues[0].announceEverySeconds: must be at least 10',
    },
    {
      name: 'an announcement interval above an hour',
      line: '    announceEverySeconds: 3601',
      message: 'tenant.yaml:10:27: queues[0].announceEverySeconds: must be at most 3600 (one hour)',
    },
    {
      name: 'an announcement interval that is not whole',
      line: '    announceEverySeconds: 12.5',
      message: 'tenant.yaml:10:27: queues[0].announceEverySeconds: expected a whole number of seconds',
    },
    {
      name: 'announcePosition that is not a boolean',
      line: '    announcePosition: sometimes',
      message: 'tenant.yaml:10:23: queues[0].announcePosition: expected true or false',
    },
    {
      name: 'ringWhileWaiting that is not a boolean',
      line: '    ringWhileWaiting: 1',
      message: 'tenant.yaml:10:23: queues[0].ringWhileWaiting: expected true or false',
    },
    {
      name: 'a greeting that is not a path',
      line: '    greeting: 42',
      message:
        'tenant.yaml:10:15: queues[0].greeting: expected the path of a greeting (a WAV or MP3 file) or none',
    },
    {
      name: 'a whisper that is a list',
      line: '    whisper: [a.wav]',
      message:
        'tenant.yaml:10:14: queues[0].whisper: expected the path of a whisper prompt (a WAV or MP3 file)',
    },
    {
      name: 'a misspelt queue audio key',
      line: '    anounceEverySeconds: 30',
      message:
        "tenant.yaml:10:5: queues[0].anounceEverySeconds: unknown field; did you mean 'announceEverySeconds'?",
    },
    {
      name: 'music on hold misspelt',
      line: '    musicOnHld: a.wav',
      message: "tenant.yaml:10:5: queues[0].musicOnHld: unknown field; did you mean 'musicOnHold'?",
    },
  ])('rejects $name', ({ line, message }) => {
    const error = errorAt(yaml(...USERS, ...QUEUE, line));
    expect(error.message).toBe(message);
    expect(error.problems).toHaveLength(1);
  });

  it('rejects a misspelt or malformed tenant audio mapping', () => {
    expect(errorAt(yaml('audio: { musicOnHld: a.wav }', ...USERS)).message).toBe(
      "tenant.yaml:1:10: audio.musicOnHld: unknown field; did you mean 'musicOnHold'?",
    );
    expect(errorAt(yaml('audio: hold.wav', ...USERS)).message).toBe(
      'tenant.yaml:1:8: audio: expected a mapping such as { musicOnHold: audio/hold.wav }',
    );
    expect(errorAt(yaml('audoi: {}', ...USERS)).message).toBe(
      "tenant.yaml:1:1: audoi: unknown field; did you mean 'audio'?",
    );
  });
});
