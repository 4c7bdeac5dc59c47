/**
 * Classifications on the platform's database (SQLite or PostgreSQL), next to the records, with
 * migrations of their own (namespace `classification`). One row per classification; the selected
 * tag ids as a JSON array (a classification is read and written whole).
 */
import type { Kysely, Migration, MigrationProvider } from 'kysely';
import { CamelCaseColumnsPlugin } from '../records/store/camel-case.js';
import type { SqlDatabase } from '../records/store/database.js';
import { createTable } from '../records/store/table-spec.js';
import type { ClassificationInstance, ClassificationStore, ClassifiedType } from './types.js';

const COLUMNS = [
  'instanceId',
  'schemaId',
  'classifiedType',
  'callId',
  'callListItemId',
  'note',
  'tagIds',
  'createdByUserId',
  'modifiedByUserId',
  'createdMs',
  'modifiedMs',
] as const;

type Row = {
  instanceId: string;
  schemaId: string;
  classifiedType: string;
  callId: string | null;
  callListItemId: string | null;
  note: string | null;
  tagIds: string;
  createdByUserId: string;
  modifiedByUserId: string;
  createdMs: number;
  modifiedMs: number;
};

type ClassificationDatabase = { classification_instances: Row };

const migrations: Record<string, Migration> = {
  '0001_classification_instances': {
    async up(db) {
      await createTable(db, 'classification_instances', {
        columns: {
          instance_id: 'text key',
          schema_id: 'text',
          classified_type: 'text',
          call_id: 'text?',
          call_list_item_id: 'text?',
          note: 'text?',
          tag_ids: 'text',
          created_by_user_id: 'text',
          modified_by_user_id: 'text',
          created_ms: 'bigint',
          modified_ms: 'bigint',
        },
        indexes: {
          classification_instances_call: ['call_id', 'created_ms'],
          classification_instances_item: ['call_list_item_id', 'created_ms'],
        },
      });
    },
    async down(db) {
      await db.schema.dropTable('classification_instances').ifExists().execute();
    },
  },
};

const provider: MigrationProvider = {
  async getMigrations() {
    return migrations;
  },
};

export const CLASSIFICATION_MIGRATION_NAMESPACE = 'classification';

export async function openClassificationStore(database: SqlDatabase): Promise<ClassificationStore> {
  await database.migrate(CLASSIFICATION_MIGRATION_NAMESPACE, provider);
  const db = database.kysely
    .withPlugin(new CamelCaseColumnsPlugin({ classification_instances: [...COLUMNS] }))
    .withTables<ClassificationDatabase>() as unknown as Kysely<ClassificationDatabase>;
  const fromRow = (row: Row): ClassificationInstance => ({
    ...row,
    classifiedType: row.classifiedType as ClassifiedType,
    tagIds: JSON.parse(row.tagIds) as number[],
    createdMs: Number(row.createdMs),
    modifiedMs: Number(row.modifiedMs),
  });
  return {
    async save(instance) {
      const row: Row = { ...instance, tagIds: JSON.stringify(instance.tagIds) };
      await db
        .insertInto('classification_instances')
        .values(row)
        .onConflict((conflict) =>
          conflict.column('instanceId').doUpdateSet({
            note: row.note,
            tagIds: row.tagIds,
            modifiedByUserId: row.modifiedByUserId,
            modifiedMs: row.modifiedMs,
          }),
        )
        .execute();
    },
    async find(query) {
      let select = db.selectFrom('classification_instances').selectAll();
      if (query.callId !== undefined) select = select.where('callId', '=', query.callId);
      if (query.callListItemId !== undefined)
        select = select.where('callListItemId', '=', query.callListItemId);
      const rows = await select.orderBy('createdMs').orderBy('instanceId').execute();
      return rows.map(fromRow);
    },
  };
}
