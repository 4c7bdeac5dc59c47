/**
 * Call classification (DESIGN.md §11): schemas configured per tenant — groups of tags with how
 * many of each group must and may be picked, bound to queues and callback lists — and the
 * classifications agents make of calls and callback requests with them.
 */

export interface ClassificationTag {
  /** A whole number, as EnreachAPI numbers tags (derived from the schema, group and tag names). */
  tagId: number;
  name: string;
}

export interface ClassificationGroup {
  groupId: number;
  name: string;
  minSelections: number;
  maxSelections: number;
  tags: ClassificationTag[];
}

export interface ClassificationSchema {
  schemaId: string;
  name: string;
  /** Queues whose calls are classified with it. */
  queueIds: string[];
  /** Callback lists whose requests are classified with it. */
  callbackListIds: string[];
  groups: ClassificationGroup[];
}

/** What was classified: EnreachAPI's `ClassifiedType` (Email is not a thing here). */
export type ClassifiedType = 'DirectCall' | 'ServiceCall' | 'CallListItem';

/** EnreachAPI's numbers for ClassifiedType. */
export const CLASSIFIED_TYPE_IDS: Record<ClassifiedType, number> = {
  DirectCall: 2,
  ServiceCall: 3,
  CallListItem: 5,
};

export interface ClassificationInstance {
  instanceId: string;
  schemaId: string;
  classifiedType: ClassifiedType;
  /** The classified call (DirectCall / ServiceCall). */
  callId: string | null;
  /** The classified callback request (CallListItem). */
  callListItemId: string | null;
  note: string | null;
  tagIds: number[];
  createdByUserId: string;
  modifiedByUserId: string;
  createdMs: number;
  modifiedMs: number;
}

/** Where classifications are kept: the platform's database (SQLite or PostgreSQL). */
export interface ClassificationStore {
  save(instance: ClassificationInstance): Promise<void>;
  find(query: { callId?: string; callListItemId?: string }): Promise<ClassificationInstance[]>;
}
