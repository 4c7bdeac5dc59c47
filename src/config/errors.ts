/**
 * Errors of the tenant configuration (CONVENTIONS, src/errors.ts: a catalog of codes and one class
 * extending SwitchboardError). A bad file must stop start-up with a message an operator can act
 * on without reading code, so every problem carries the file, line, column and field path.
 */
import { SwitchboardError } from '../errors.js';

export const CONFIG_ERRORS = {
  /** The file could not be read (missing, permissions, a directory). */
  CONFIG_UNREADABLE: { message: 'cannot read the configuration file' },
  /** The file was read but has one or more problems (see `problems`). */
  CONFIG_INVALID: { message: 'the configuration has problems' },
  /** --tls-cert / --tls-key: a file is missing, unreadable, not PEM, or the key does not fit the certificate. */
  TLS_FILES_INVALID: { message: 'cannot use the TLS certificate and key' },
} as const satisfies Record<string, { message: string }>;

export type ConfigErrorCode = keyof typeof CONFIG_ERRORS;

/** The kinds of problem one file can have; a CONFIG_INVALID error lists them all. */
export const CONFIG_PROBLEMS = {
  /** Not well-formed YAML (bad indentation, unclosed bracket, duplicate key, several documents). */
  YAML_SYNTAX: {},
  /** A field that the format does not know (typo or misplaced field). */
  UNKNOWN_FIELD: {},
  /** A required field is absent. */
  MISSING_FIELD: {},
  /** A field has the wrong type or format. */
  INVALID_VALUE: {},
  /** Two entities share something that must be unique (username, extension, number, name, id). */
  DUPLICATE: {},
  /** A reference (member, queue, callback list, permission target, overflow) names nothing. */
  UNKNOWN_REFERENCE: {},
  /** An audio file (greeting, music on hold, whisper) is missing, unreadable or not playable audio. */
  AUDIO_FILE: {},
} as const;

export type ConfigProblemCode = keyof typeof CONFIG_PROBLEMS;

export interface ConfigProblem {
  code: ConfigProblemCode;
  /** The file name as given to the loader. */
  source: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** Field path such as `users[1].extension`; empty for the document as a whole. */
  path: string;
  /** What is wrong, without the location prefix. */
  message: string;
}

/** `tenant.yaml:14:7: users[1].extension: expected a string of digits` */
export function formatProblem(problem: ConfigProblem): string {
  const where = `${problem.source}:${problem.line}:${problem.column}`;
  return problem.path === ''
    ? `${where}: ${problem.message}`
    : `${where}: ${problem.path}: ${problem.message}`;
}

export class ConfigError extends SwitchboardError<ConfigErrorCode> {
  /** Sorted by line, then column; empty for CONFIG_UNREADABLE. */
  readonly problems: readonly ConfigProblem[];

  constructor(
    code: ConfigErrorCode,
    message: string,
    problems: readonly ConfigProblem[] = [],
    cause?: unknown,
  ) {
    super(code, message, cause === undefined ? undefined : { cause });
    this.problems = problems;
  }

  /** One ConfigError for all problems of a file: one line per problem, in file order. */
  static fromProblems(problems: readonly ConfigProblem[]): ConfigError {
    const sorted = [...problems].sort(
      (a, b) => a.line - b.line || a.column - b.column || a.path.localeCompare(b.path),
    );
    return new ConfigError('CONFIG_INVALID', sorted.map(formatProblem).join('\n'), sorted);
  }

  static unreadable(source: string, cause: unknown): ConfigError {
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new ConfigError(
      'CONFIG_UNREADABLE',
      `${source}: ${CONFIG_ERRORS.CONFIG_UNREADABLE.message}: ${reason}`,
      [],
      cause,
    );
  }
}

export function isConfigError(value: unknown): value is ConfigError {
  return value instanceof ConfigError;
}
