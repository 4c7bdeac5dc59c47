import { afterAll, describe, expect, it } from 'vitest';
import { postgresDatabaseFactory, sqliteDatabaseFactory } from '../records/store/test-stores.js';
import {
  checkSelections,
  classificationSchemasSchema,
  derivedNumber,
  resolveClassificationSchemas,
} from './config.js';
import { openClassificationStore } from './store.js';
import type { ClassificationInstance } from './types.js';

const lookups = {
  queueIdByName: (name: string) => (name.toLowerCase() === 'support' ? 'queue-support' : undefined),
  callbackListIdByName: (name: string) => (name === 'Support callbacks' ? 'list-support' : undefined),
};

const entries = classificationSchemasSchema.parse([
  {
    name: 'Support reasons',
    queues: ['Support'],
    callbackLists: ['Support callbacks'],
    groups: [
      { name: 'Reason', minSelections: 1, maxSelections: 1, tags: ['Billing', 'Technical'] },
      { name: 'Products', maxSelections: 2, tags: ['Hammers', 'Screwdrivers', 'Nails'] },
    ],
  },
]);

describe('classification schemas from the tenant', () => {
  it('resolves names to ids; schema, group and tag ids are stable and independent of order', () => {
    const { schemas, problems } = resolveClassificationSchemas(entries, lookups);
    expect(problems).toEqual([]);
    const [schema] = schemas;
    expect(schema!.queueIds).toEqual(['queue-support']);
    expect(schema!.callbackListIds).toEqual(['list-support']);
    expect(schema!.schemaId).toMatch(/^[0-9a-f-]{36}$/);
    const products = schema!.groups[1]!;
    expect(products).toMatchObject({ name: 'Products', minSelections: 0, maxSelections: 2 });
    expect(products.tags[0]!.tagId).toBe(derivedNumber('tag', 'Support reasons', 'Products', 'Hammers'));
    const reordered = classificationSchemasSchema.parse([
      { ...entries[0]!, groups: [...entries[0]!.groups].reverse() },
    ]);
    const again = resolveClassificationSchemas(reordered, lookups).schemas[0]!;
    expect(again.schemaId).toBe(schema!.schemaId);
    expect(again.groups[0]!.tags.map((t) => t.tagId)).toEqual(products.tags.map((t) => t.tagId));
  });

  it('names every problem by its field', () => {
    const bad = classificationSchemasSchema.parse([
      {
        name: 'Broken',
        queues: ['Nope'],
        callbackLists: ['Gone'],
        groups: [
          { name: 'G', minSelections: 3, maxSelections: 2, tags: ['a', 'A'] },
          { name: 'g', tags: ['x'] },
        ],
      },
      { name: 'broken', groups: [{ name: 'H', tags: ['y'] }] },
    ]);
    const { problems } = resolveClassificationSchemas(bad, lookups);
    const messages = problems.map((p) => `${p.path.join('.')}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        '0.queues.0: no queue named "Nope"',
        '0.callbackLists.0: no callback list named "Gone"',
        '0.groups.0.minSelections: minSelections (3) is more than maxSelections (2)',
        '0.groups.0.tags.1: tag "A" appears twice in the group',
        '0.groups.1.name: group "g" appears twice in the schema',
        '1.name: schema "broken" is defined twice',
      ]),
    );
    expect(classificationSchemasSchema.safeParse([{ name: 'x', groups: [] }]).success).toBe(false);
  });

  it("checks selections against min and max per group and the schema's tags", () => {
    const schema = resolveClassificationSchemas(entries, lookups).schemas[0]!;
    const [reason, products] = schema.groups;
    const billing = reason!.tags[0]!.tagId;
    const technical = reason!.tags[1]!.tagId;
    const [hammers, screwdrivers, nails] = products!.tags.map((t) => t.tagId);
    expect(checkSelections(schema, [billing])).toBeUndefined();
    expect(checkSelections(schema, [billing, hammers!, screwdrivers!])).toBeUndefined();
    expect(checkSelections(schema, [hammers!])).toMatch(/group "Reason" needs at least 1/);
    expect(checkSelections(schema, [billing, technical])).toMatch(/group "Reason" allows at most 1/);
    expect(checkSelections(schema, [billing, hammers!, screwdrivers!, nails!])).toMatch(
      /"Products" allows at most 2/,
    );
    expect(checkSelections(schema, [billing, 42])).toMatch(/TagId 42 is not a tag/);
    expect(checkSelections(schema, [billing, billing])).toMatch(/selected twice/);
  });
});

describe.each([
  ['SQLite', sqliteDatabaseFactory],
  ['PostgreSQL', postgresDatabaseFactory],
])('the classification store on %s', (_name, factory) => {
  const databases = factory();
  afterAll(() => databases.cleanup());

  const instance = (over: Partial<ClassificationInstance>): ClassificationInstance => ({
    instanceId: 'd6c8a7f0-0000-4000-8000-000000000001',
    schemaId: 's1',
    classifiedType: 'ServiceCall',
    callId: 'c1',
    callListItemId: null,
    note: 'first',
    tagIds: [3, 5],
    createdByUserId: 'u1',
    modifiedByUserId: 'u1',
    createdMs: 1000,
    modifiedMs: 1000,
    ...over,
  });

  it('saves, updates and finds by call or by callback request, across a reopen', async () => {
    const store = await openClassificationStore(await databases.open('one'));
    await store.save(instance({}));
    await store.save(instance({ note: 'changed', tagIds: [7], modifiedByUserId: 'u2', modifiedMs: 2000 }));
    await store.save(
      instance({
        instanceId: 'd6c8a7f0-0000-4000-8000-000000000002',
        classifiedType: 'CallListItem',
        callId: null,
        callListItemId: 'item-1',
        createdMs: 3000,
        modifiedMs: 3000,
      }),
    );
    const reopened = await openClassificationStore(await databases.open('one'));
    const byCall = await reopened.find({ callId: 'c1' });
    expect(byCall).toHaveLength(1);
    expect(byCall[0]).toMatchObject({
      note: 'changed',
      tagIds: [7],
      modifiedByUserId: 'u2',
      modifiedMs: 2000,
      createdMs: 1000,
    });
    expect((await reopened.find({ callListItemId: 'item-1' })).map((i) => i.classifiedType)).toEqual([
      'CallListItem',
    ]);
    expect(await reopened.find({ callId: 'other' })).toEqual([]);
  });
});
