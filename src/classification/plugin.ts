/**
 * Classification in the EnreachAPI (DESIGN.md §11), as the public EnreachVoice Python client uses
 * it: schemas (`/classification/schemas[/{id}]`, groups and tags with `IncludeChildren`),
 * classifications (`POST /classification/instance`, `GET /classification/instance/?CallId=` or
 * `?CallbackListItemId=`) and which schema goes with which queue or callback list
 * (`/classification/queueschemas`, `/classification/calllistschemas`). Mounted inside the REST API
 * (its authentication, budgets and OpenAPI document) as one of its extensions.
 *
 * Who may classify: a user may classify a call they can see a record of (their own events, those
 * their DirectCalls / AgentCalls grants show, the service calls of queues their ServiceCalls grant
 * shows) and a callback request of a list they may see; classifications are found under the same
 * rule. Schemas are the tenant's configuration: every user sees them.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { callerOf } from '../api/auth-plugin.js';
import { operation } from '../api/documentation.js';
import { badParameter, notFound } from '../api/errors.js';
import { inScope, scopeOf } from '../api/filters.js';
import type { Directory, User } from '../config/types.js';
import { formatApiTime } from '../records/kinds/wire-time.js';
import type { CallbackRequestStore, RecordReader } from '../records/types.js';
import { checkSelections } from './config.js';
import {
  CLASSIFIED_TYPE_IDS,
  type ClassificationInstance,
  type ClassificationSchema,
  type ClassificationStore,
  type ClassifiedType,
} from './types.js';

export interface ClassificationDeps {
  directory: Directory;
  schemas: readonly ClassificationSchema[];
  store: ClassificationStore;
  records: RecordReader;
  callbacks?: CallbackRequestStore;
  now?: () => number;
}

const TAG = 'Classification';
const MAX_NOTE = 500;

/** `true` / `false` as query strings send them (`True` from Python, `1` / `0`). */
const flag = (description: string) =>
  z
    .preprocess(
      (value) => (typeof value === 'string' ? /^(true|1)$/i.test(value.trim()) : value),
      z.boolean({ error: 'expected true or false' }),
    )
    .optional()
    .meta({ description, type: 'boolean' });

const guid = (field: string) =>
  z.uuid({ error: `${field} must be a GUID` }).meta({ description: `${field} (GUID)` });

const schemasQuery = z.object({
  IncludeChildren: flag("Include each schema's Groups and their Tags."),
  IncludeArchived: flag('Accepted; no schema is archived here.'),
  IncludeDeleted: flag('Accepted; no schema is deleted here.'),
  ModifiedAfter: z
    .string()
    .optional()
    .meta({ description: 'Accepted; schemas change with the configuration only.' }),
});
const schemaQuery = z.object({ IncludeChildren: flag("Include the schema's Groups and their Tags.") });
const schemaParams = z.object({ SchemaId: guid('SchemaId') });
const noQuery = z.object({});
const noParams = z.object({});

const tagWire = z.object({ Id: z.number().int(), Name: z.string() });
const groupWire = z.object({
  Id: z.number().int(),
  Name: z.string(),
  MinSelections: z.number().int(),
  MaxSelections: z.number().int(),
  Tags: z.array(tagWire),
});
const schemaWire = z
  .object({
    Id: z.string(),
    Name: z.string(),
    QueueIds: z.array(z.string()),
    CallbackListIds: z.array(z.string()),
    Groups: z.array(groupWire).optional(),
  })
  .meta({ description: 'A classification schema (TagSchema); Groups with IncludeChildren.' });

const selectionWire = z.object({
  TagId: z.number().int(),
  TagName: z.string(),
  TagGroupId: z.number().int(),
  TagGroupName: z.string(),
});
const instanceWire = z
  .object({
    Id: z.string(),
    TagSchemaId: z.string(),
    TagSchemaName: z.string(),
    TagSelections: z.array(selectionWire),
    Note: z.string().nullable(),
    CallId: z.string().nullable(),
    CallListItemId: z.string().nullable(),
    ClassifiedTypeId: z.number().int(),
    ClassifiedType: z.string(),
    CreatedBy: z.string(),
    ModifiedBy: z.string(),
    Modified: z.string(),
  })
  .meta({ description: 'A classification of a call or a callback request (ClassificationInstance).' });

const instanceBody = z.object({
  TagSchemaId: guid('TagSchemaId'),
  TagSelections: z
    .array(z.object({ TagId: z.number({ error: 'TagId must be a whole number' }).int() }), {
      error: 'TagSelections must be a list of {TagId}',
    })
    .min(1, { error: 'TagSelections must not be empty' }),
  ClassifiedType: z
    .enum(['DirectCall', 'ServiceCall', 'CallListItem'], {
      error: 'ClassifiedType must be DirectCall, ServiceCall or CallListItem',
    })
    .default('ServiceCall'),
  Note: z
    .string()
    .max(MAX_NOTE, { error: `Note must be at most ${MAX_NOTE} characters` })
    .optional(),
  CallId: guid('CallId').optional(),
  CallListItemId: guid('CallListItemId').optional(),
});
const findQuery = z.object({
  CallId: guid('CallId').optional(),
  CallbackListItemId: guid('CallbackListItemId').optional(),
});

const queueSchemaWire = z.object({ QueueId: z.string(), SchemaId: z.string(), QueueName: z.string() });
const listSchemaWire = z.object({
  ListId: z.string(),
  SchemaId: z.string(),
  ListName: z.string(),
  RequestTypeId: z.number().int().nullable(),
});

function schemaToWire(schema: ClassificationSchema, withChildren: boolean) {
  return {
    Id: schema.schemaId,
    Name: schema.name,
    QueueIds: schema.queueIds,
    CallbackListIds: schema.callbackListIds,
    ...(withChildren
      ? {
          Groups: schema.groups.map((group) => ({
            Id: group.groupId,
            Name: group.name,
            MinSelections: group.minSelections,
            MaxSelections: group.maxSelections,
            Tags: group.tags.map((tag) => ({ Id: tag.tagId, Name: tag.name })),
          })),
        }
      : {}),
  };
}

export const classificationPlugin: FastifyPluginAsync<ClassificationDeps> = async (plain, deps) => {
  const app = plain.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? Date.now;
  const schemaById = new Map(deps.schemas.map((schema) => [schema.schemaId.toLowerCase(), schema]));

  /** May `caller` see a record of `callId`? */
  async function maySeeCall(caller: User, callId: string): Promise<boolean> {
    const selection = { by: 'callId' as const, callId };
    const events = await deps.records.listUserCallEvents({
      selection,
      visibleDirectCallUserIds: scopeOf(caller, 'DirectCalls'),
      visibleAgentCallUserIds: scopeOf(caller, 'AgentCalls'),
      limit: 1,
    });
    if (events.length > 0) return true;
    const visibleQueueIds = scopeOf(caller, 'ServiceCalls');
    if ((await deps.records.listServiceCalls({ selection, visibleQueueIds, limit: 1 })).length > 0)
      return true;
    return (await deps.records.listOutboundServiceCalls({ selection, visibleQueueIds, limit: 1 })).length > 0;
  }

  /** May `caller` see the callback request `itemId`? */
  async function maySeeItem(caller: User, itemId: string): Promise<boolean> {
    const request = await deps.callbacks?.getCallbackRequest(itemId);
    return request !== undefined && inScope(scopeOf(caller, 'CallbackList'), request.callbackListId);
  }

  const maySee = (caller: User, instance: ClassificationInstance): Promise<boolean> =>
    instance.callId !== null
      ? maySeeCall(caller, instance.callId)
      : instance.callListItemId !== null
        ? maySeeItem(caller, instance.callListItemId)
        : Promise.resolve(false);

  const userName = (userId: string) => deps.directory.userById(userId)?.username ?? userId;

  function instanceToWire(instance: ClassificationInstance) {
    const schema = schemaById.get(instance.schemaId.toLowerCase());
    const selections = instance.tagIds.map((tagId) => {
      for (const group of schema?.groups ?? []) {
        const tag = group.tags.find((candidate) => candidate.tagId === tagId);
        if (tag)
          return { TagId: tagId, TagName: tag.name, TagGroupId: group.groupId, TagGroupName: group.name };
      }
      return { TagId: tagId, TagName: '', TagGroupId: 0, TagGroupName: '' };
    });
    return {
      Id: instance.instanceId,
      TagSchemaId: instance.schemaId,
      TagSchemaName: schema?.name ?? '',
      TagSelections: selections,
      Note: instance.note,
      CallId: instance.callId,
      CallListItemId: instance.callListItemId,
      ClassifiedTypeId: CLASSIFIED_TYPE_IDS[instance.classifiedType],
      ClassifiedType: instance.classifiedType,
      CreatedBy: instance.createdByUserId,
      ModifiedBy: instance.modifiedByUserId,
      Modified: formatApiTime(instance.modifiedMs),
    };
  }

  app.get(
    '/classification/schemas',
    operation({
      operationId: 'listClassificationSchemas',
      tag: TAG,
      summary: 'Classification schemas',
      description: 'Every classification schema of the tenant; with IncludeChildren their groups and tags.',
      auth: 'basic',
      query: schemasQuery,
      params: noParams,
      response: { schema: schemaWire, list: true, description: 'The schemas.' },
      errors: [400, 401, 429],
    }),
    async (request) =>
      deps.schemas.map((schema) => schemaToWire(schema, request.query.IncludeChildren === true)),
  );

  app.get(
    '/classification/schemas/:SchemaId',
    operation({
      operationId: 'getClassificationSchema',
      tag: TAG,
      summary: 'One classification schema',
      description: 'A schema by its Id; with IncludeChildren its groups and tags. 404 for an unknown Id.',
      auth: 'basic',
      query: schemaQuery,
      params: schemaParams,
      response: { schema: schemaWire, description: 'The schema.' },
      errors: [400, 401, 404, 429],
    }),
    async (request) => {
      const schema = schemaById.get(request.params.SchemaId.toLowerCase());
      if (!schema) throw notFound(`No classification schema ${request.params.SchemaId}`);
      return schemaToWire(schema, request.query.IncludeChildren === true);
    },
  );

  app.post(
    '/classification/instance',
    operation({
      operationId: 'createClassification',
      tag: TAG,
      summary: 'Classify a call or a callback request',
      description:
        'TagSchemaId and TagSelections ([{TagId}]) classify the call CallId (ClassifiedType DirectCall or ' +
        'ServiceCall) or the callback request CallListItemId (CallListItem). Each group of the schema ' +
        'must get between its MinSelections and MaxSelections tags. The caller must be able to see a ' +
        'record of the call (or the request): else 404.',
      auth: 'basic',
      query: noQuery,
      params: noParams,
      body: instanceBody,
      response: { schema: instanceWire, description: 'The classification made.' },
      errors: [400, 401, 404, 429],
    }),
    async (request) => {
      const caller = callerOf(request);
      const body = request.body;
      const schema = schemaById.get(body.TagSchemaId.toLowerCase());
      if (!schema) throw badParameter('TagSchemaId', `No classification schema ${body.TagSchemaId}`);
      const tagIds = body.TagSelections.map((selection) => selection.TagId);
      const problem = checkSelections(schema, tagIds);
      if (problem) throw badParameter('TagSelections', problem);
      const classifiedType = body.ClassifiedType as ClassifiedType;
      let callId: string | null = null;
      let callListItemId: string | null = null;
      if (classifiedType === 'CallListItem') {
        if (!body.CallListItemId)
          throw badParameter('CallListItemId', 'CallListItemId is required for a CallListItem');
        if (!(await maySeeItem(caller, body.CallListItemId)))
          throw notFound(`No callback request ${body.CallListItemId}`);
        callListItemId = body.CallListItemId;
      } else {
        if (!body.CallId) throw badParameter('CallId', `CallId is required for a ${classifiedType}`);
        if (!(await maySeeCall(caller, body.CallId))) throw notFound(`No call ${body.CallId}`);
        callId = body.CallId;
      }
      const at = now();
      const instance: ClassificationInstance = {
        instanceId: randomUUID(),
        schemaId: schema.schemaId,
        classifiedType,
        callId,
        callListItemId,
        note: body.Note ?? null,
        tagIds,
        createdByUserId: caller.userId,
        modifiedByUserId: caller.userId,
        createdMs: at,
        modifiedMs: at,
      };
      await deps.store.save(instance);
      request.log.info(
        { classificationId: instance.instanceId, callId, callListItemId, user: userName(caller.userId) },
        'classification: created',
      );
      return instanceToWire(instance);
    },
  );

  app.get(
    '/classification/instance',
    operation({
      operationId: 'findClassifications',
      tag: TAG,
      summary: 'The classifications of a call or a callback request',
      description: 'By CallId or CallbackListItemId (one of them is required); those the caller may see.',
      auth: 'basic',
      query: findQuery,
      params: noParams,
      response: { schema: instanceWire, list: true, description: 'The classifications, oldest first.' },
      errors: [400, 401, 429],
    }),
    async (request) => {
      const caller = callerOf(request);
      const { CallId, CallbackListItemId } = request.query;
      if (!CallId && !CallbackListItemId)
        throw badParameter('CallId', 'CallId or CallbackListItemId is required');
      const found = await deps.store.find({
        ...(CallId ? { callId: CallId } : {}),
        ...(CallbackListItemId ? { callListItemId: CallbackListItemId } : {}),
      });
      const visible: ClassificationInstance[] = [];
      for (const instance of found) if (await maySee(caller, instance)) visible.push(instance);
      return visible.map(instanceToWire);
    },
  );

  /** Queues the caller works in or may see the service calls of. */
  const callerQueues = (caller: User) => {
    const visible = scopeOf(caller, 'ServiceCalls');
    return deps.directory.tenant.queues.filter(
      (queue) => queue.memberUserIds.includes(caller.userId) || inScope(visible, queue.queueId),
    );
  };

  app.get(
    '/classification/queueschemas',
    operation({
      operationId: 'listQueueSchemas',
      tag: TAG,
      summary: 'Which schema classifies which queue’s calls',
      description: "For the caller's queues (member of, or ServiceCalls): QueueId, SchemaId, QueueName.",
      auth: 'basic',
      query: noQuery,
      params: noParams,
      response: { schema: queueSchemaWire, list: true, description: 'The queue–schema bindings.' },
      errors: [401, 429],
    }),
    async (request) => {
      const queues = callerQueues(callerOf(request));
      return deps.schemas.flatMap((schema) =>
        queues
          .filter((queue) => schema.queueIds.includes(queue.queueId))
          .map((queue) => ({ QueueId: queue.queueId, SchemaId: schema.schemaId, QueueName: queue.name })),
      );
    },
  );

  app.get(
    '/classification/calllistschemas',
    operation({
      operationId: 'listCallListSchemas',
      tag: TAG,
      summary: 'Which schema classifies which callback list’s requests',
      description:
        "For the caller's callback lists (member of, or CallbackList): ListId, SchemaId, ListName.",
      auth: 'basic',
      query: noQuery,
      params: noParams,
      response: { schema: listSchemaWire, list: true, description: 'The list–schema bindings.' },
      errors: [401, 429],
    }),
    async (request) => {
      const caller = callerOf(request);
      const visible = scopeOf(caller, 'CallbackList');
      const lists = deps.directory.tenant.callbackLists.filter(
        (list) => list.memberUserIds.includes(caller.userId) || inScope(visible, list.callbackListId),
      );
      return deps.schemas.flatMap((schema) =>
        lists
          .filter((list) => schema.callbackListIds.includes(list.callbackListId))
          .map((list) => ({
            ListId: list.callbackListId,
            SchemaId: schema.schemaId,
            ListName: list.name,
            RequestTypeId: null,
          })),
      );
    },
  );
};
