/**
 * The seed's people (DESIGN.md §2) as tenant YAML, for the suites that play the seed's scenario:
 * users A, B and C with their SIP passwords, an admin, queue Support with B and C as members, and
 * the viewers whose permissions show one part of a call each. Built from data rather than written
 * out per suite, so that a suite says only what it adds (display names, viewers).
 */

interface Person {
  username: string;
  displayName: string | null;
  extension: string;
  password: string;
  /** The rest of the YAML entry: role or permissions. */
  more: string;
}

const SEED_USERS: readonly Person[] = [
  { username: 'a@example.com', displayName: 'User A', extension: '1001', password: 'secret-a', more: '' },
  { username: 'b@example.com', displayName: 'User B', extension: '1002', password: 'secret-b', more: '' },
  { username: 'c@example.com', displayName: 'User C', extension: '1003', password: 'secret-c', more: '' },
  {
    username: 'admin@example.com',
    displayName: null,
    extension: '1000',
    password: 'secret-admin',
    more: 'role: admin',
  },
];

/** Users who see one part of the seed's call through one permission (extensions 2001…). */
const VIEWERS = {
  'sees-direct-a': { extension: '2001', more: 'permissions: [ { DirectCalls: a@example.com } ]' },
  'sees-agent-b': { extension: '2002', more: 'permissions: [ { AgentCalls: b@example.com } ]' },
  'sees-agent-c': { extension: '2003', more: 'permissions: [ { AgentCalls: c@example.com } ]' },
  'sees-support': { extension: '2004', more: 'permissions: [ { ServiceCalls: Support } ]' },
  'sees-nothing': { extension: '2005', more: '' },
} as const;

export type ViewerName = keyof typeof VIEWERS;

export interface SeedTenantOptions {
  /** Give A, B and C their display names ("User A", …). */
  displayNames?: boolean;
  /** Viewers to add, in this order (password `pw`). */
  viewers?: readonly ViewerName[];
}

function userLine(person: Person, displayNames: boolean): string {
  const fields = [`username: ${person.username}`];
  if (displayNames && person.displayName) fields.push(`displayName: ${person.displayName}`);
  fields.push(`extension: "${person.extension}"`, `password: ${person.password}`);
  if (person.more) fields.push(person.more);
  return `  - { ${fields.join(', ')} }`;
}

/** The tenant YAML of the seed's scenario. */
export function seedTenantYaml(options: SeedTenantOptions = {}): string {
  const viewers: Person[] = (options.viewers ?? []).map((name) => ({
    username: `${name}@example.com`,
    displayName: null,
    password: 'pw',
    ...VIEWERS[name],
  }));
  return [
    '',
    'domain: switchboard.local',
    'users:',
    ...[...SEED_USERS, ...viewers].map((person) => userLine(person, options.displayNames ?? false)),
    'queues:',
    '  - { name: Support, extension: "100", number: "+35810100100", members: [b@example.com, c@example.com] }',
    '',
  ].join('\n');
}
