/**
 * The one shape of every package's errors (CONVENTIONS: errors are values with codes). Each
 * package keeps its catalog of codes in its own `errors.ts` — `export const X_ERRORS = { Code: {…} }
 * as const` with whatever each code needs there (an HTTP or SIP status, a default message) — and,
 * where it throws, a subclass of `SwitchboardError` typed by that catalog's keys.
 */
export class SwitchboardError<Code extends string = string> extends Error {
  readonly code: Code;

  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

export function isSwitchboardError(value: unknown): value is SwitchboardError {
  return value instanceof SwitchboardError;
}
