/**
 * Secret keys over their whole life (DESIGN.md §11): a key stays valid until revoked — however many
 * logins follow —, is listed without its secret, is revoked by DELETE (at once, even while
 * remembered as verified), and dies with a password change: the tenant's configured password
 * differing from the one the keys were minted under, after a restart with the new configuration
 * (on a real SQLite credential store, as the platform keeps it).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createDirectory } from '../config/directory.js';
import { parseTenantYaml } from '../config/load.js';
import { openRecordStore } from '../records/store/index.js';
import { sqliteDatabaseFactory } from '../records/store/test-stores.js';
import { openCredentialStore } from './credentials/index.js';
import { createApiServer } from './server.js';
import {
  asRecord,
  asRecords,
  basic,
  freePort,
  InMemoryRecords,
  PASSWORDS,
  request,
  seedRecords,
  testTenantYaml,
  useTestApi,
} from './test-fixtures.js';

// Many logins as one user in a second: above the default anonymous budget, not what is tested here.
const api = useTestApi({
  rateLimits: {
    anonymous: { capacity: 10_000, refillPerSecond: 10_000 },
    requests: { capacity: 10_000, refillPerSecond: 10_000 },
  },
});

async function login(baseUrl: string, username: string, password = PASSWORDS[username]) {
  const response = await request(baseUrl, `/authuser/${username}`, {
    method: 'POST',
    body: { UserName: username, Password: password },
  });
  expect(response.status, response.text).toBe(200);
  const body = asRecord(response.body);
  return { secretKey: String(body.SecretKey), keyId: String(body.KeyId) };
}

const me = (baseUrl: string, username: string, secretKey: string) =>
  request(baseUrl, '/users/me', { headers: { authorization: basic(username, secretKey) } });

const asUser = (username: string, secretKey: string) => ({
  authorization: basic(username, secretKey),
  'x-json-serializer': '2',
});

describe('a secret key stays valid until revoked', () => {
  it('survives 20 further logins of the same user', async () => {
    const { baseUrl } = api();
    const first = await login(baseUrl, 'c@example.com');
    expect((await me(baseUrl, 'c@example.com', first.secretKey)).status).toBe(200);
    const later: string[] = [];
    for (let n = 0; n < 20; n += 1) later.push((await login(baseUrl, 'c@example.com')).secretKey);
    expect(new Set([first.secretKey, ...later]).size).toBe(21);
    // Checked against the store, not only remembered: a fresh server over the same store agrees.
    const fresh = createApiServer({
      directory: api().directory,
      records: api().records,
      credentials: api().credentials,
    });
    const port = await freePort();
    await fresh.listen({ port, host: '127.0.0.1' });
    try {
      const freshUrl = `http://127.0.0.1:${port}/`;
      for (const key of [first.secretKey, later[0]!, later[19]!]) {
        expect((await me(freshUrl, 'c@example.com', key)).status).toBe(200);
      }
    } finally {
      await fresh.close();
    }
  });
});

describe('GET /authuser/{email}/keys', () => {
  it("lists the caller's keys newest first, with ids and times, never a secret or a hash", async () => {
    const { baseUrl } = api();
    const older = await login(baseUrl, 'agent-b@example.com');
    const newer = await login(baseUrl, 'agent-b@example.com');
    await me(baseUrl, 'agent-b@example.com', older.secretKey);
    const response = await request(baseUrl, '/authuser/agent-b@example.com/keys', {
      headers: asUser('agent-b@example.com', newer.secretKey),
    });
    expect(response.status, response.text).toBe(200);
    const keys = asRecords(response.body);
    expect(keys.map((key) => key.Id)).toEqual([newer.keyId, older.keyId]);
    const userId = api().directory.userByUsername('agent-b@example.com')!.userId;
    expect(keys[0]).toEqual({
      Id: newer.keyId,
      UserId: userId,
      Created: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      LastUsed: expect.stringMatching(/Z$/),
      Current: true,
    });
    expect(keys[1]).toMatchObject({ Id: older.keyId, Current: false, LastUsed: expect.stringMatching(/Z$/) });
    for (const secret of [older.secretKey, newer.secretKey]) expect(response.text).not.toContain(secret);
    expect(response.text).not.toContain('scrypt');
  });

  it('shows a key never used with LastUsed null, and takes the user name in any case', async () => {
    const { baseUrl } = api();
    const unused = await login(baseUrl, 'agent-c@example.com');
    const caller = await login(baseUrl, 'agent-c@example.com');
    const response = await request(baseUrl, '/authuser/AGENT-C@example.com/keys/', {
      headers: asUser('agent-c@example.com', caller.secretKey),
    });
    expect(response.status).toBe(200);
    expect(asRecords(response.body).find((key) => key.Id === unused.keyId)).toMatchObject({ LastUsed: null });
  });

  it("refuses another user's keys to a non-admin (403 naming email), and shows them to an admin", async () => {
    const { baseUrl } = api();
    const mine = await login(baseUrl, 'direct-a@example.com');
    const forbidden = await request(baseUrl, '/authuser/b@example.com/keys', {
      headers: asUser('direct-a@example.com', mine.secretKey),
    });
    expect(forbidden.status).toBe(403);
    expect(asRecord(forbidden.body)).toMatchObject({ Code: 'FORBIDDEN', Parameter: 'email' });
    const unknownForAgent = await request(baseUrl, '/authuser/ghost@example.com/keys', {
      headers: asUser('direct-a@example.com', mine.secretKey),
    });
    expect(unknownForAgent.status).toBe(403);

    const admin = await login(baseUrl, 'admin@example.com');
    const asAdmin = await request(baseUrl, '/authuser/direct-a@example.com/keys', {
      headers: asUser('admin@example.com', admin.secretKey),
    });
    expect(asAdmin.status).toBe(200);
    expect(asRecords(asAdmin.body).map((key) => [key.Id, key.Current])).toEqual([[mine.keyId, false]]);
    const unknown = await request(baseUrl, '/authuser/ghost@example.com/keys', {
      headers: asUser('admin@example.com', admin.secretKey),
    });
    expect(unknown.status).toBe(404);
    expect(asRecord(unknown.body).Code).toBe('NOT_FOUND');
  });

  it('needs credentials', async () => {
    const response = await request(api().baseUrl, '/authuser/a@example.com/keys');
    expect(response.status).toBe(401);
  });
});

describe('DELETE /authuser/{email}/keys/{KeyId}', () => {
  it('revokes a key at once, even one remembered as verified, and leaves the others', async () => {
    const { baseUrl } = api();
    const revoked = await login(baseUrl, 'service@example.com');
    const kept = await login(baseUrl, 'service@example.com');
    // Verified once: remembered for a minute.
    expect((await me(baseUrl, 'service@example.com', revoked.secretKey)).status).toBe(200);
    const response = await request(baseUrl, `/authuser/service@example.com/keys/${revoked.keyId}`, {
      method: 'DELETE',
      headers: asUser('service@example.com', kept.secretKey),
    });
    expect(response.status, response.text).toBe(200);
    expect(asRecord(response.body)).toMatchObject({ Id: revoked.keyId, Current: false });
    const refused = await me(baseUrl, 'service@example.com', revoked.secretKey);
    expect(refused.status).toBe(401);
    expect(asRecord(refused.body).Code).toBe('UNAUTHORIZED');
    expect((await me(baseUrl, 'service@example.com', kept.secretKey)).status).toBe(200);
    const again = await request(baseUrl, `/authuser/service@example.com/keys/${revoked.keyId}`, {
      method: 'DELETE',
      headers: asUser('service@example.com', kept.secretKey),
    });
    expect(again.status).toBe(404);
  });

  it('revokes the key of the request itself, as Python requests sends a DELETE (JSON type, empty body)', async () => {
    const { baseUrl } = api();
    const key = await login(baseUrl, 'callback@example.com');
    const response = await request(
      baseUrl,
      `/authuser/callback@example.com/keys/${key.keyId.toUpperCase()}`,
      {
        method: 'DELETE',
        headers: {
          ...asUser('callback@example.com', key.secretKey),
          'content-type': 'application/json',
          'content-length': '0',
        },
      },
    );
    expect(response.status, response.text).toBe(200);
    expect(asRecord(response.body)).toMatchObject({ Id: key.keyId, Current: true });
    expect((await me(baseUrl, 'callback@example.com', key.secretKey)).status).toBe(401);
  });

  it("lets an admin revoke anyone's key; a non-admin gets 403 for another's, 404 for a key not theirs", async () => {
    const { baseUrl } = api();
    const victim = await login(baseUrl, 'everything@example.com');
    const other = await login(baseUrl, 'nobody@example.com');
    const forbidden = await request(baseUrl, `/authuser/everything@example.com/keys/${victim.keyId}`, {
      method: 'DELETE',
      headers: asUser('nobody@example.com', other.secretKey),
    });
    expect(forbidden.status).toBe(403);
    // Someone else's key id under one's own name is no key of one's own.
    const notMine = await request(baseUrl, `/authuser/nobody@example.com/keys/${victim.keyId}`, {
      method: 'DELETE',
      headers: asUser('nobody@example.com', other.secretKey),
    });
    expect(notMine.status).toBe(404);
    expect((await me(baseUrl, 'everything@example.com', victim.secretKey)).status).toBe(200);

    const admin = await login(baseUrl, 'admin@example.com');
    const revoked = await request(baseUrl, `/authuser/everything@example.com/keys/${victim.keyId}`, {
      method: 'DELETE',
      headers: asUser('admin@example.com', admin.secretKey),
    });
    expect(revoked.status).toBe(200);
    expect((await me(baseUrl, 'everything@example.com', victim.secretKey)).status).toBe(401);
  });

  it('names a malformed KeyId in a 400', async () => {
    const { baseUrl } = api();
    const key = await login(baseUrl, 'a@example.com');
    const response = await request(baseUrl, '/authuser/a@example.com/keys/not-a-key', {
      method: 'DELETE',
      headers: asUser('a@example.com', key.secretKey),
    });
    expect(response.status).toBe(400);
    expect(asRecord(response.body)).toMatchObject({ Parameter: 'KeyId', Code: 'BAD_PARAMETER' });
    expect(String(asRecord(response.body).Message)).toContain('KeyId');
  });
});

describe('a password change revokes every key (real SQLite credential store, restart)', () => {
  const factory = sqliteDatabaseFactory();
  afterAll(async () => {
    await factory.cleanup();
  });

  /** The API as the platform runs it: a directory from tenant YAML, credentials on the database. */
  async function startOn(databaseName: string, yaml: (url: string) => string) {
    const database = await factory.open(databaseName);
    await openRecordStore(database);
    const credentials = await openCredentialStore(database);
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}/`;
    const directory = createDirectory(parseTenantYaml(yaml(baseUrl), 'keys test tenant'));
    const app = createApiServer({
      directory,
      records: new InMemoryRecords(seedRecords(directory)),
      credentials,
    });
    await app.listen({ port, host: '127.0.0.1' });
    return {
      baseUrl,
      credentials,
      close: async () => {
        await app.close();
        await database.close();
      },
    };
  }

  it('keeps keys across a restart with the same password, and refuses them after one with a new password', async () => {
    const original = testTenantYaml;
    const changed = (url: string) =>
      testTenantYaml(url).replace('password: secret-b', 'password: new-secret-b');

    const first = await startOn('password-change', original);
    const oldKey = await login(first.baseUrl, 'b@example.com');
    const otherUser = await login(first.baseUrl, 'a@example.com');
    expect((await me(first.baseUrl, 'b@example.com', oldKey.secretKey)).status).toBe(200);
    await first.close();

    const sameAgain = await startOn('password-change', original);
    expect((await me(sameAgain.baseUrl, 'b@example.com', oldKey.secretKey)).status).toBe(200);
    await sameAgain.close();

    const afterChange = await startOn('password-change', changed);
    try {
      const userId = createDirectory(parseTenantYaml(original('http://x/'), 't')).userByUsername(
        'b@example.com',
      )!.userId;
      const refused = await me(afterChange.baseUrl, 'b@example.com', oldKey.secretKey);
      expect(refused.status).toBe(401);
      expect(await afterChange.credentials.listSecretKeys(userId)).toEqual([]);
      // The old password is refused, the new one mints a key that works; other users keep theirs.
      const oldPassword = await request(afterChange.baseUrl, '/authuser/b@example.com', {
        method: 'POST',
        body: { Password: 'secret-b' },
      });
      expect(oldPassword.status).toBe(401);
      const newKey = await login(afterChange.baseUrl, 'b@example.com', 'new-secret-b');
      expect((await me(afterChange.baseUrl, 'b@example.com', newKey.secretKey)).status).toBe(200);
      expect((await me(afterChange.baseUrl, 'a@example.com', otherUser.secretKey)).status).toBe(200);
    } finally {
      await afterChange.close();
    }
  });

  it('revokes on a login with the new password as well as on a request with an old key', async () => {
    const first = await startOn('password-change-login', testTenantYaml);
    const oldKey = await login(first.baseUrl, 'b@example.com');
    await first.close();
    const changed = await startOn('password-change-login', (url) =>
      testTenantYaml(url).replace('password: secret-b', 'password: another-b'),
    );
    try {
      // The first thing after the restart is the login: the keys of the old password go before the new one is saved.
      const newKey = await login(changed.baseUrl, 'b@example.com', 'another-b');
      expect((await me(changed.baseUrl, 'b@example.com', oldKey.secretKey)).status).toBe(401);
      expect((await me(changed.baseUrl, 'b@example.com', newKey.secretKey)).status).toBe(200);
      const keys = await request(changed.baseUrl, '/authuser/b@example.com/keys', {
        headers: asUser('b@example.com', newKey.secretKey),
      });
      expect(asRecords(keys.body).map((key) => key.Id)).toEqual([newKey.keyId]);
    } finally {
      await changed.close();
    }
  });
});
