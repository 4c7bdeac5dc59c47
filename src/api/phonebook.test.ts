/**
 * The phonebook (DESIGN.md §11): GET /directory lists one directory, Default; GET
 * /directory/{id} its entries — users and queues — filtered by EntryTypes, Number and MaxCount, with
 * the fields the public EnreachVoice MCP server reads. Bad input is a 400 naming the parameter.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DIRECTORY_ID, normalizeNumber, numberMatches } from './routes/phonebook.js';
import { asRecord, asRecords, request, useTestApi } from './test-fixtures.js';

const api = useTestApi();
const USER = 'nobody@example.com';

const entries = async (query = '') => {
  const response = await api().get(`/directory/${DEFAULT_DIRECTORY_ID}${query}`, USER);
  expect(response.status, response.text).toBe(200);
  return asRecords(asRecord(response.body).Entries);
};

/** Asserts a 400 that names `parameter` in its Parameter field and its message. */
function expect400(response: { status: number; body: unknown; text: string }, parameter: string) {
  expect(response.status, response.text).toBe(400);
  expect(asRecord(response.body).Parameter).toBe(parameter);
  expect(String(asRecord(response.body).Message)).toContain(parameter);
}

describe('GET /directory', () => {
  it('lists one directory, Default, with a stable id', async () => {
    const response = await api().get('/directory', USER);
    expect(response.status).toBe(200);
    expect(response.body).toEqual([{ ID: DEFAULT_DIRECTORY_ID, Name: 'Default' }]);
    expect(DEFAULT_DIRECTORY_ID).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
  });

  it('needs credentials', async () => {
    expect((await request(api().baseUrl, '/directory')).status).toBe(401);
    expect((await request(api().baseUrl, `/directory/${DEFAULT_DIRECTORY_ID}`)).status).toBe(401);
  });
});

describe('GET /directory/{id}', () => {
  it('lists every user, then every queue, with the fields the MCP server reads', async () => {
    const all = await entries();
    const { tenant } = api().directory;
    expect(all).toHaveLength(tenant.users.length + tenant.queues.length);
    expect(all.slice(0, tenant.users.length).every((entry) => entry.EntryType === 1)).toBe(true);
    const a = api().directory.userByUsername('a@example.com')!;
    expect(all.find((entry) => entry.UserId === a.userId)).toEqual({
      Id: a.userId,
      EntryType: 1,
      EntryTypeString: 'User',
      UserId: a.userId,
      QueueId: null,
      FirstName: 'User',
      LastName: 'A',
      DisplayName: 'User A',
      Email: 'a@example.com',
      WorkNumber: '+358401000001',
      MobileNumber: null,
      OtherNumber: null,
      Extension: '1001',
      Description: null,
      Title: null,
      Company: 'switchboard.test',
      Subcompany: null,
      Department: null,
      Location: null,
    });
    const support = api().directory.queueByReference('Support')!;
    expect(all.find((entry) => entry.QueueId === support.queueId)).toMatchObject({
      Id: support.queueId,
      EntryType: 2,
      EntryTypeString: 'Queue',
      UserId: null,
      FirstName: '',
      LastName: 'Support',
      Email: null,
      WorkNumber: '+35810100100',
      Extension: '100',
      Description: 'Service queue',
    });
    // A user without a display name: the MCP server's name (FirstName + LastName, or LastName) is the user name.
    expect(all.find((entry) => entry.Email === 'c@example.com')).toMatchObject({
      FirstName: '',
      LastName: 'c@example.com',
    });
    // One word: FirstName, and LastName a string (the MCP server concatenates them).
    expect(all.find((entry) => entry.Email === 'admin@example.com')).toMatchObject({
      FirstName: 'Admin',
      LastName: '',
    });
  });

  it('filters by EntryTypes: 2 (what the MCP server asks for queues), 1, names, lists', async () => {
    expect((await entries('?EntryTypes=2&MaxCount=1000')).map((entry) => entry.LastName)).toEqual([
      'Sales',
      'Support',
    ]);
    const users = await entries('?entrytypes=1');
    expect(users.every((entry) => entry.EntryTypeString === 'User')).toBe(true);
    expect(users).toHaveLength(api().directory.tenant.users.length);
    expect(await entries('?EntryTypes=Queue,user')).toHaveLength((await entries()).length);
    expect(await entries('?EntryTypes=2&EntryTypes=1')).toHaveLength((await entries()).length);
  });

  it('filters by Number: any number or extension, ignoring formatting, national format too', async () => {
    const emails = async (number: string) =>
      (await entries(`?Number=${encodeURIComponent(number)}&MaxCount=1000`)).map(
        (entry) => entry.Email ?? entry.LastName,
      );
    expect(await emails('+358401000001')).toEqual(['a@example.com']);
    expect(await emails('00358 40 100-0001')).toEqual(['a@example.com']);
    expect(await emails('0401000001')).toEqual(['a@example.com']);
    expect(await emails('(040) 100 0001')).toEqual(['a@example.com']);
    expect(await emails('1002')).toEqual(['b@example.com']);
    expect(await emails('+35810100200')).toEqual(['Sales']);
    expect(await emails('200')).toEqual(['Sales']);
    expect(await emails('+999')).toEqual([]);
    // A short national number matches only exactly, not the end of some international number.
    expect(await emails('01')).toEqual([]);
  });

  it('returns at most MaxCount entries', async () => {
    expect(await entries('?MaxCount=3')).toHaveLength(3);
    expect(await entries('?MaxCount=1&EntryTypes=2')).toHaveLength(1);
  });

  it('answers 404 for an unknown directory and ignores unknown parameters', async () => {
    const unknown = await api().get('/directory/00000000-0000-4000-8000-000000000000', USER);
    expect(unknown.status).toBe(404);
    expect(asRecord(unknown.body)).toMatchObject({
      Code: 'NOT_FOUND',
      Message: expect.stringContaining('directory'),
    });
    expect(await entries('?SearchText=x')).toHaveLength((await entries()).length);
  });

  it.each([
    ['EntryTypes', '?EntryTypes=3'],
    ['EntryTypes', '?EntryTypes=1,,2'],
    ['EntryTypes', '?EntryTypes=Robots'],
    ['Number', '?Number=abc'],
    ['Number', '?Number='],
    ['Number', '?Number=()'],
    ['MaxCount', '?MaxCount=0'],
    ['MaxCount', '?MaxCount=-1'],
    ['MaxCount', '?MaxCount=ten'],
    ['MaxCount', '?MaxCount=10001'],
    ['MaxCount', '?MaxCount=1&MaxCount=2'],
  ])('names %s in the 400 for %s', async (parameter, query) => {
    expect400(await api().get(`/directory/${DEFAULT_DIRECTORY_ID}${query}`, USER), parameter);
  });

  it('names DirectoryId in the 400 for a malformed id', async () => {
    expect400(await api().get('/directory/Default', USER), 'DirectoryId');
  });
});

describe('number matching', () => {
  it('normalizes formatting and a 00 prefix', () => {
    expect(normalizeNumber(' +358 (40) 100-00.01 ')).toBe('+358401000001');
    expect(normalizeNumber('00358401000001')).toBe('+358401000001');
  });

  it('matches the same number, or a national number against the international one it ends', () => {
    expect(numberMatches('+358401000001', '+358 40 1000001')).toBe(true);
    expect(numberMatches('0401000001', '+358401000001')).toBe(true);
    expect(numberMatches('0401000001', '+358501000001')).toBe(false);
    expect(numberMatches('01000001', '+1000001')).toBe(false);
    expect(numberMatches('1001', null)).toBe(false);
  });
});

describe('OpenAPI', () => {
  it('documents both endpoints and their parameters', async () => {
    const document = asRecord((await request(api().baseUrl, '/openapi.json')).body);
    const paths = asRecord(document.paths);
    expect(paths).toHaveProperty(['/directory']);
    const entriesGet = asRecord(asRecord(paths['/directory/{DirectoryId}']).get);
    expect((entriesGet.parameters as Array<{ name: string }>).map((parameter) => parameter.name)).toEqual(
      expect.arrayContaining(['DirectoryId', 'EntryTypes', 'Number', 'MaxCount']),
    );
    const schemas = asRecord(asRecord(document.components).schemas);
    expect(Object.keys(asRecord(asRecord(schemas.DirectoryEntry).properties))).toEqual(
      expect.arrayContaining([
        'Id',
        'UserId',
        'QueueId',
        'FirstName',
        'LastName',
        'WorkNumber',
        'Description',
      ]),
    );
  });
});
