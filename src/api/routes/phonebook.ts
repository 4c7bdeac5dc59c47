/**
 * The phonebook (DESIGN.md §11): `GET /directory` lists one directory, `Default`, and
 * `GET /directory/{DirectoryId}` its entries — the tenant's users and queues — with the fields the
 * public EnreachVoice MCP server reads (`Id`, `UserId`/`QueueId`, `FirstName`, `LastName`,
 * `Email`, `WorkNumber`, `MobileNumber`, `OtherNumber`, `Description`, `Company`, ...). Like the
 * user and queue listings, every authenticated user may read it.
 *
 * (./directory.ts is the users/queues/callback lists routes; the EnreachAPI calls this one
 * "directory" too.)
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { v5 as uuidv5 } from 'uuid';
import { SWITCHBOARD_ID_NAMESPACE } from '../../config/load.js';
import type { Queue, Tenant, User } from '../../config/types.js';
import { operation } from '../documentation.js';
import { notFound } from '../errors.js';
import {
  DEFAULT_DIRECTORY_ENTRIES,
  DIRECTORY_ENTRY_TYPES,
  type DirectoryEntryType,
  directoryEntriesQuery,
  directoryIdParams,
  noParameters,
  type Wire,
} from '../schemas.js';
import type { RouteContext } from './context.js';

const DEFAULT_DIRECTORY_NAME = 'Default';
/** The one directory's id: the same on every start and every node. */
export const DEFAULT_DIRECTORY_ID = uuidv5(`directory:${DEFAULT_DIRECTORY_NAME}`, SWITCHBOARD_ID_NAMESPACE);

type Entry = Wire<'DirectoryEntry'>;

const blank = {
  MobileNumber: null,
  OtherNumber: null,
  Title: null,
  Subcompany: null,
  Department: null,
  Location: null,
} as const;

function userEntry(tenant: Tenant, user: User): Entry {
  const displayName = user.displayName?.trim() || '';
  const space = displayName.indexOf(' ');
  const [firstName, lastName] =
    displayName === ''
      ? ['', user.username]
      : space < 0
        ? [displayName, '']
        : [displayName.slice(0, space), displayName.slice(space + 1).trim()];
  return {
    Id: user.userId,
    EntryType: DIRECTORY_ENTRY_TYPES.User,
    EntryTypeString: 'User',
    UserId: user.userId,
    QueueId: null,
    FirstName: firstName,
    LastName: lastName,
    DisplayName: displayName || user.username,
    Email: user.username,
    WorkNumber: user.number ?? null,
    Extension: user.extension,
    Description: null,
    Company: tenant.domain,
    ...blank,
  };
}

function queueEntry(tenant: Tenant, queue: Queue): Entry {
  return {
    Id: queue.queueId,
    EntryType: DIRECTORY_ENTRY_TYPES.Queue,
    EntryTypeString: 'Queue',
    UserId: null,
    QueueId: queue.queueId,
    FirstName: '',
    LastName: queue.name,
    DisplayName: queue.name,
    Email: null,
    WorkNumber: queue.number ?? null,
    Extension: queue.extension ?? null,
    Description: 'Service queue',
    Company: tenant.domain,
    ...blank,
  };
}

/**
 * A number as compared: without spaces, dashes, dots and parentheses, with a leading 00 as '+'.
 */
export function normalizeNumber(number: string): string {
  const compact = number.replace(/[\s().-]/g, '');
  return compact.startsWith('00') ? `+${compact.slice(2)}` : compact;
}

/** Shortest national significant number a leading-0 query may match the end of an international one by. */
const MIN_NATIONAL_DIGITS = 6;

/**
 * Whether `wanted` (normalized) names `candidate`: the same number, or `wanted` in national format
 * (one leading 0) and `candidate` the international number it ends (+358 40 1000001 for 0401000001).
 */
export function numberMatches(wanted: string, candidate: string | null): boolean {
  if (candidate === null) return false;
  const number = normalizeNumber(candidate);
  if (number === wanted) return true;
  const national = /^0[1-9][0-9]*$/.test(wanted) ? wanted.slice(1) : undefined;
  return (
    national !== undefined &&
    national.length >= MIN_NATIONAL_DIGITS &&
    number.startsWith('+') &&
    number.endsWith(national) &&
    number.length > national.length + 1
  );
}

const entryNumbers = (entry: Entry): Array<string | null> => [
  entry.WorkNumber,
  entry.MobileNumber,
  entry.OtherNumber,
  entry.Extension,
];

export const phonebookRoutes: FastifyPluginAsyncZod<RouteContext> = async (app, { directory }) => {
  const { tenant } = directory;
  app.get(
    '/directory',
    operation({
      operationId: 'listDirectories',
      tag: 'Directory',
      summary: 'The phonebooks: one, Default',
      description:
        "One directory, Default, whose entries are the tenant's users and queues. Every authenticated user may read it.",
      auth: 'basic',
      query: noParameters,
      params: noParameters,
      response: { schema: 'Directory', list: true, description: 'The one directory.' },
      errors: [400, 401, 429],
    }),
    async () => [{ ID: DEFAULT_DIRECTORY_ID, Name: DEFAULT_DIRECTORY_NAME }],
  );

  app.get(
    '/directory/:DirectoryId',
    operation({
      operationId: 'listDirectoryEntries',
      tag: 'Directory',
      summary: 'Phonebook entries: users and queues',
      description:
        'Users (EntryType 1) and queues (EntryType 2) of the tenant, users first by user name, then queues ' +
        'by name; filtered by EntryTypes and Number, at most MaxCount. A user entry has UserId, a queue ' +
        'entry QueueId (the other is null). An unknown DirectoryId is a 404.',
      auth: 'basic',
      query: directoryEntriesQuery,
      params: directoryIdParams,
      response: { schema: 'DirectoryEntries', description: 'The matching entries.' },
      errors: [400, 401, 404, 429],
    }),
    async ({ params, query }) => {
      if (params.DirectoryId !== DEFAULT_DIRECTORY_ID) throw notFound(`No directory ${params.DirectoryId}`);
      const types = new Set<DirectoryEntryType>(query.EntryTypes ?? ['User', 'Queue']);
      const byName = (a: string, b: string) => a.localeCompare(b, 'en');
      let entries: Entry[] = [
        ...(types.has('User')
          ? [...tenant.users]
              .sort((a, b) => byName(a.username, b.username))
              .map((user) => userEntry(tenant, user))
          : []),
        ...(types.has('Queue')
          ? [...tenant.queues]
              .sort((a, b) => byName(a.name, b.name))
              .map((queue) => queueEntry(tenant, queue))
          : []),
      ];
      if (query.Number !== undefined) {
        const wanted = normalizeNumber(query.Number);
        entries = entries.filter((entry) =>
          entryNumbers(entry).some((candidate) => numberMatches(wanted, candidate)),
        );
      }
      return { Entries: entries.slice(0, query.MaxCount ?? DEFAULT_DIRECTORY_ENTRIES) };
    },
  );
};
