/**
 * Tenant `classificationSchemas:` (DESIGN.md §11):
 *
 * ```yaml
 * classificationSchemas:
 *   - name: Support reasons
 *     queues: [Support]
 *     callbackLists: [Support callbacks]
 *     groups:
 *       - { name: Reason, minSelections: 1, maxSelections: 1, tags: [Billing, Technical, Other] }
 *       - { name: Products, minSelections: 0, maxSelections: 3, tags: [Hammers, Screwdrivers] }
 * ```
 *
 * A schema's id is given (`id:`) or the UUID v5 of its name, so restarts keep it; group and tag
 * ids are whole numbers (EnreachAPI numbers them) derived from the schema's, group's and tag's
 * names, so reordering the file keeps them too.
 */
import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { z } from 'zod';
import type { ClassificationGroup, ClassificationSchema } from './types.js';

/** Namespace of derived schema ids; fixed forever (changing it renames every schema). */
export const CLASSIFICATION_ID_NAMESPACE = 'f1b2c0de-6f2b-5d2e-9c1a-6a1f0c9d2e4b';

const name = (what: string) =>
  z
    .string({ error: `expected ${what} (a string)` })
    .trim()
    .min(1, { error: `${what} must not be empty` })
    .max(200, { error: `${what} must be at most 200 characters` });

const selections = z
  .number({ error: 'expected a whole number' })
  .int({ error: 'expected a whole number' })
  .min(0, { error: 'must be at least 0' })
  .max(100, { error: 'must be at most 100' });

export const classificationGroupSchema = z.strictObject(
  {
    name: name('a group name'),
    minSelections: selections.default(0),
    maxSelections: selections.default(1),
    tags: z.array(name('a tag name'), { error: 'expected a list of tag names' }).min(1, {
      error: 'a group needs at least one tag',
    }),
  },
  { error: 'expected a mapping (one group: name, minSelections, maxSelections, tags)' },
);

export const classificationSchemaEntry = z.strictObject(
  {
    name: name('a schema name'),
    id: z.uuid({ error: 'expected a GUID' }).optional(),
    queues: z.array(name('a queue name'), { error: 'expected a list of queue names' }).default([]),
    callbackLists: z
      .array(name('a callback list name'), { error: 'expected a list of callback list names' })
      .default([]),
    groups: z.array(classificationGroupSchema, { error: 'expected a list of groups' }).min(1, {
      error: 'a schema needs at least one group',
    }),
  },
  { error: 'expected a mapping (one schema: name, queues, callbackLists, groups)' },
);

export const classificationSchemasSchema = z.array(classificationSchemaEntry, {
  error: 'expected a list of classification schemas',
});

export type ClassificationSchemaEntry = z.output<typeof classificationSchemaEntry>;

/** A whole number from 1 to 2^31 − 1 for a name path (stable across restarts and reorderings). */
export function derivedNumber(...names: string[]): number {
  const hash = createHash('sha256')
    .update(names.map((n) => n.toLowerCase()).join('\0'))
    .digest();
  return hash.readUInt32BE(0) & 0x7fffffff || 1;
}

export interface ClassificationLookups {
  queueIdByName(name: string): string | undefined;
  callbackListIdByName(name: string): string | undefined;
}

export interface ClassificationProblem {
  /** Field path below `classificationSchemas`, e.g. `[0, 'queues', 1]`. */
  path: (string | number)[];
  message: string;
}

/** The entries resolved to schemas (queue and list names to ids); problems name the field. */
export function resolveClassificationSchemas(
  entries: readonly ClassificationSchemaEntry[],
  lookups: ClassificationLookups,
): { schemas: ClassificationSchema[]; problems: ClassificationProblem[] } {
  const problems: ClassificationProblem[] = [];
  const schemas: ClassificationSchema[] = [];
  const schemaNames = new Set<string>();
  const numbers = new Map<number, string>();
  const claimNumber = (value: number, what: string, path: (string | number)[]): void => {
    const previous = numbers.get(value);
    if (previous !== undefined)
      problems.push({ path, message: `${what} gets the same id as ${previous}; rename one of them` });
    numbers.set(value, what);
  };
  entries.forEach((entry, index) => {
    const key = entry.name.toLowerCase();
    if (schemaNames.has(key))
      problems.push({ path: [index, 'name'], message: `schema "${entry.name}" is defined twice` });
    schemaNames.add(key);
    const queueIds: string[] = [];
    entry.queues.forEach((queue, i) => {
      const queueId = lookups.queueIdByName(queue);
      if (queueId === undefined)
        problems.push({ path: [index, 'queues', i], message: `no queue named "${queue}"` });
      else queueIds.push(queueId);
    });
    const callbackListIds: string[] = [];
    entry.callbackLists.forEach((list, i) => {
      const listId = lookups.callbackListIdByName(list);
      if (listId === undefined)
        problems.push({ path: [index, 'callbackLists', i], message: `no callback list named "${list}"` });
      else callbackListIds.push(listId);
    });
    const groupNames = new Set<string>();
    const groups: ClassificationGroup[] = entry.groups.map((group, g) => {
      const path = [index, 'groups', g];
      if (groupNames.has(group.name.toLowerCase()))
        problems.push({
          path: [...path, 'name'],
          message: `group "${group.name}" appears twice in the schema`,
        });
      groupNames.add(group.name.toLowerCase());
      if (group.minSelections > group.maxSelections)
        problems.push({
          path: [...path, 'minSelections'],
          message: `minSelections (${group.minSelections}) is more than maxSelections (${group.maxSelections})`,
        });
      if (group.minSelections > group.tags.length)
        problems.push({
          path: [...path, 'minSelections'],
          message: `minSelections (${group.minSelections}) is more than the group's ${group.tags.length} tags`,
        });
      const groupId = derivedNumber('group', entry.name, group.name);
      claimNumber(groupId, `group "${group.name}"`, [...path, 'name']);
      const tagNames = new Set<string>();
      const tags = group.tags.map((tag, t) => {
        if (tagNames.has(tag.toLowerCase()))
          problems.push({ path: [...path, 'tags', t], message: `tag "${tag}" appears twice in the group` });
        tagNames.add(tag.toLowerCase());
        const tagId = derivedNumber('tag', entry.name, group.name, tag);
        claimNumber(tagId, `tag "${tag}"`, [...path, 'tags', t]);
        return { tagId, name: tag };
      });
      return {
        groupId,
        name: group.name,
        minSelections: group.minSelections,
        maxSelections: group.maxSelections,
        tags,
      };
    });
    schemas.push({
      schemaId: entry.id ?? uuidv5(`classification-schema:${key}`, CLASSIFICATION_ID_NAMESPACE),
      name: entry.name,
      queueIds,
      callbackListIds,
      groups,
    });
  });
  return { schemas, problems };
}

/**
 * Whether `tagIds` are a valid classification with `schema`: every id one of its tags, no tag
 * twice, each group's count within its min/max. Returns the problem, or undefined when valid.
 */
export function checkSelections(schema: ClassificationSchema, tagIds: readonly number[]): string | undefined {
  const groupOf = new Map<number, ClassificationGroup>();
  for (const group of schema.groups) for (const tag of group.tags) groupOf.set(tag.tagId, group);
  const seen = new Set<number>();
  const counts = new Map<ClassificationGroup, number>();
  for (const tagId of tagIds) {
    const group = groupOf.get(tagId);
    if (!group) return `TagId ${tagId} is not a tag of schema "${schema.name}"`;
    if (seen.has(tagId)) return `TagId ${tagId} is selected twice`;
    seen.add(tagId);
    counts.set(group, (counts.get(group) ?? 0) + 1);
  }
  for (const group of schema.groups) {
    const count = counts.get(group) ?? 0;
    if (count < group.minSelections)
      return `group "${group.name}" needs at least ${group.minSelections} selected tag${group.minSelections === 1 ? '' : 's'} (got ${count})`;
    if (count > group.maxSelections)
      return `group "${group.name}" allows at most ${group.maxSelections} selected tag${group.maxSelections === 1 ? '' : 's'} (got ${count})`;
  }
  return undefined;
}
