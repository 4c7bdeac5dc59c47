/**
 * Classification end to end (issue 16, DESIGN.md §11) as the public EnreachVoice Python client
 * uses it, against a platform whose tenant configures a schema for the Support queue: the seed's
 * queue call (signalling only), then the agent who handled it classifies it, finds it again (with
 * the client's trailing slash), sees the queue's schema binding; someone who cannot see the call
 * can neither classify it nor find the classification; bad input is a 400 naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTenantYaml } from '../src/config/load.js';
import { type RestClient, startTestPlatform, type TestPlatform } from './support/platform.js';
import { seedTenantYaml } from './support/tenants.js';

type Json = Record<string, unknown>;

let env: TestPlatform;
let agent: RestClient;
let stranger: RestClient;
let callId: string;

beforeAll(async () => {
  const tenant = parseTenantYaml(
    `${seedTenantYaml({ viewers: ['sees-nothing'] })}
classificationSchemas:
  - name: Support reasons
    queues: [Support]
    groups:
      - { name: Reason, minSelections: 1, maxSelections: 1, tags: [Billing, Technical, Other] }
      - { name: Products, minSelections: 0, maxSelections: 2, tags: [Hammers, Screwdrivers, Nails] }
`,
    'classification.yaml',
  );
  env = await startTestPlatform(tenant, 'sqlite');
  const [a, b, c] = await env.uas('1001', '1002', '1003');
  b!.rejectAfterRinging(603, 20);
  c!.answerAfterRinging(20);
  const call = a!.call('100');
  const answer = await call.waitForFinal(10_000);
  expect(answer.status).toBe(200);
  callId = answer.headers.get('X-Server-Call-Id')!;
  expect((await call.hangup()).status).toBe(200);
  agent = await env.rest('c@example.com', 'secret-c');
  await agent.handledRows('/calls', callId, 10_000, "C's event of the call");
  stranger = await env.rest('sees-nothing@example.com', 'pw');
}, 60_000);

afterAll(() => env?.close());

async function schemaWithChildren(): Promise<
  Json & { Groups: { Id: number; Name: string; Tags: { Id: number; Name: string }[] }[] }
> {
  const schemas = await agent.list<Json & { Groups: never }>('/classification/schemas', {
    IncludeChildren: 'True',
  });
  expect(schemas).toHaveLength(1);
  return schemas[0]!;
}

const tagId = (schema: Awaited<ReturnType<typeof schemaWithChildren>>, group: string, tag: string): number =>
  schema.Groups.find((g) => g.Name === group)!.Tags.find((t) => t.Name === tag)!.Id;

describe('classification as the Python client calls it', () => {
  it('lists schemas (children on request), one schema by id, and the queue binding', async () => {
    const bare = await agent.list<Json>('/classification/schemas');
    expect(bare[0]).toMatchObject({ Name: 'Support reasons' });
    expect(bare[0]!.Groups).toBeUndefined();
    const schema = await schemaWithChildren();
    expect(schema.Groups.map((g) => g.Name)).toEqual(['Reason', 'Products']);
    expect(schema.Groups[0]).toMatchObject({ MinSelections: 1, MaxSelections: 1 });
    const one = await agent.get(`/classification/schemas/${schema.Id}`, { IncludeChildren: 'true' });
    expect(one.status).toBe(200);
    expect((one.body as Json).Groups).toEqual(schema.Groups);
    expect((await agent.get('/classification/schemas/00000000-0000-4000-8000-000000000000')).status).toBe(
      404,
    );
    const bindings = await agent.list<Json>('/classification/queueschemas');
    expect(bindings).toEqual([
      {
        QueueId: env.platform.directory.queueByReference('Support')!.queueId,
        SchemaId: schema.Id,
        QueueName: 'Support',
      },
    ]);
    expect(await agent.list('/classification/calllistschemas')).toEqual([]);
  });

  it('the agent classifies the call and finds the classification again', async () => {
    const schema = await schemaWithChildren();
    const created = await agent.post('/classification/instance', {
      TagSchemaId: schema.Id,
      TagSelections: [
        { TagId: tagId(schema, 'Reason', 'Billing') },
        { TagId: tagId(schema, 'Products', 'Nails') },
      ],
      ClassifiedType: 'ServiceCall',
      Note: 'Billing question about nails',
      CallId: callId,
    });
    expect(created.status).toBe(200);
    const instance = created.body as Json;
    expect(instance).toMatchObject({
      TagSchemaId: schema.Id,
      TagSchemaName: 'Support reasons',
      CallId: callId,
      ClassifiedType: 'ServiceCall',
      Note: 'Billing question about nails',
      CreatedBy: agent.userId,
    });
    expect((instance.TagSelections as Json[]).map((s) => [s.TagGroupName, s.TagName])).toEqual([
      ['Reason', 'Billing'],
      ['Products', 'Nails'],
    ]);
    // The Python client asks with a trailing slash.
    const found = await agent.list<Json>('/classification/instance/', { CallId: callId });
    expect(found.map((f) => f.Id)).toEqual([instance.Id]);
    expect(await stranger.list('/classification/instance/', { CallId: callId })).toEqual([]);
  });

  it('refuses a call the user cannot see, and names the field of every bad input', async () => {
    const schema = await schemaWithChildren();
    const billing = tagId(schema, 'Reason', 'Billing');
    const base = { TagSchemaId: schema.Id, TagSelections: [{ TagId: billing }], CallId: callId };
    expect((await stranger.post('/classification/instance', base)).status).toBe(404);
    const cases: [Json, RegExp][] = [
      [{ ...base, TagSchemaId: 'not-a-guid' }, /TagSchemaId/],
      [{ ...base, TagSchemaId: '00000000-0000-4000-8000-000000000000' }, /TagSchemaId/],
      [{ ...base, TagSelections: [] }, /TagSelections/],
      [{ ...base, TagSelections: [{ TagId: 1 }] }, /TagId 1 is not a tag/],
      [
        { ...base, TagSelections: [{ TagId: tagId(schema, 'Products', 'Nails') }] },
        /"Reason" needs at least 1/,
      ],
      [
        {
          ...base,
          TagSelections: [billing, ...schema.Groups[1]!.Tags.map((t) => t.Id)].map((id) => ({ TagId: id })),
        },
        /"Products" allows at most 2/,
      ],
      [{ ...base, ClassifiedType: 'Fax' }, /ClassifiedType/],
      [{ ...base, Note: 'x'.repeat(501) }, /Note/],
      [{ ...base, CallId: undefined }, /CallId/],
      [{ ...base, ClassifiedType: 'CallListItem' }, /CallListItemId/],
    ];
    for (const [body, message] of cases) {
      const response = await agent.post('/classification/instance', body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      const error = response.body as { Message: string; Parameter?: string };
      expect(`${error.Parameter ?? ''} ${error.Message}`).toMatch(message);
    }
    expect((await agent.get('/classification/instance/')).status).toBe(400);
  });
});
