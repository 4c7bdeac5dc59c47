import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/errors.js';
import { parseTenantYaml } from '../config/load.js';
import { endpointIdOf } from './config.js';
import { sign, signingKey, verify } from './signature.js';

const USERS = ['users:', '  - username: a@example.com', '    extension: "1001"', '    password: secret-a'];
const yaml = (...lines: string[]) => `${[...USERS, ...lines].join('\n')}\n`;

function messageOf(text: string): string {
  try {
    parseTenantYaml(text, 'tenant.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('tenant webhooks:', () => {
  it('resolves entries with a stable endpoint id; none by default', () => {
    const tenant = parseTenantYaml(
      yaml(
        'webhooks:',
        '  - endpoint: https://crm.example.com/hooks',
        '    secret: whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        '    events: [UserCallInComing, QueueCallInArrived]',
      ),
      'tenant.yaml',
    );
    expect(tenant.webhooks).toEqual([
      {
        endpointId: endpointIdOf('https://crm.example.com/hooks'),
        endpoint: 'https://crm.example.com/hooks',
        secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        events: ['UserCallInComing', 'QueueCallInArrived'],
      },
    ]);
    expect(parseTenantYaml(yaml(), 'tenant.yaml').webhooks).toEqual([]);
  });

  const cases: Array<{ name: string; lines: string[]; message: string }> = [
    {
      name: 'a URL that is not http(s)',
      lines: ['webhooks:', '  - endpoint: ftp://x.example.com/', '    secret: s', '    events: [UserStatus]'],
      message: 'tenant.yaml:6:15: webhooks[0].endpoint: expected an http:// or https:// URL of the receiver',
    },
    {
      name: 'a whsec_ secret without base64',
      lines: [
        'webhooks:',
        '  - endpoint: http://127.0.0.1:9/',
        '    secret: whsec_%%%',
        '    events: [UserStatus]',
      ],
      message: 'tenant.yaml:7:13: webhooks[0].secret: a whsec_ secret must be followed by base64',
    },
    {
      name: 'no events',
      lines: ['webhooks:', '  - endpoint: http://127.0.0.1:9/', '    secret: s', '    events: []'],
      message: 'tenant.yaml:8:13: webhooks[0].events: at least one event name is required',
    },
    {
      name: 'a bad event name',
      lines: ['webhooks:', '  - endpoint: http://127.0.0.1:9/', '    secret: s', '    events: [user call]'],
      message:
        'tenant.yaml:8:14: webhooks[0].events[0]: expected an event name such as UserCallInComing, or *',
    },
    {
      name: 'a missing secret',
      lines: ['webhooks:', '  - endpoint: http://127.0.0.1:9/', '    events: [UserStatus]'],
      message: 'tenant.yaml:6:5: webhooks[0].secret: missing required field',
    },
    {
      name: 'a misspelt field',
      lines: ['webhooks:', '  - endpoint: http://127.0.0.1:9/', '    secret: s', '    event: [UserStatus]'],
      message: "webhooks[0].event: unknown field; did you mean 'events'?",
    },
    {
      name: 'the same endpoint twice',
      lines: [
        'webhooks:',
        '  - { endpoint: "http://127.0.0.1:9/a", secret: s, events: [UserStatus] }',
        '  - { endpoint: "http://127.0.0.1:9/a", secret: t, events: [QueueStatus] }',
      ],
      message: 'webhooks[1].endpoint: duplicate webhook endpoint (also webhooks[0])',
    },
  ];
  for (const { name, lines, message } of cases)
    it(`names the line and field: ${name}`, () => {
      expect(messageOf(yaml(...lines))).toContain(message);
    });
});

describe('Standard Webhooks signatures', () => {
  it('matches the published example of the Standard Webhooks specification', () => {
    // From the reference implementations' test vectors.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const signature = sign(secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(
      verify(
        secret,
        { id: 'msg_p5jXN8AQM9LWM0D4loKWxJek', timestamp: '1614265330', signature: `v1,bogus ${signature}` },
        '{"test": 2432232314}',
      ),
    ).toBe(true);
    expect(
      verify(secret, { id: 'msg_other', timestamp: '1614265330', signature }, '{"test": 2432232314}'),
    ).toBe(false);
  });

  it('uses a plain secret as its UTF-8 bytes', () => {
    expect(signingKey('plain secret').toString('utf8')).toBe('plain secret');
  });
});
