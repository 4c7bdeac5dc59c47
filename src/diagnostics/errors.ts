/**
 * Errors of the diagnostics package, one code per kind with its HTTP status. Bodies have the REST
 * API's shape, `{"Message", "Code", "Parameter"?}`, so one client handles both.
 */

export const DIAGNOSTICS_ERRORS = {
  /** A parameter has a bad value (empty, too long, control characters); `parameter` names it. */
  BAD_PARAMETER: { status: 400 },
  MISSING_PARAMETER: { status: 400 },
  /** An unknown identifier, or one of a call the viewer may see nothing of (not told apart). */
  NOT_FOUND: { status: 404 },
  /** The browser bundles (webphone SDK, console) could not be built: esbuild missing or a build error. */
  ASSET_UNAVAILABLE: { status: 503 },
  INTERNAL: { status: 500 },
} as const satisfies Record<string, { status: number }>;

export type DiagnosticsErrorCode = keyof typeof DIAGNOSTICS_ERRORS;

export interface DiagnosticsErrorBody {
  Message: string;
  Code: DiagnosticsErrorCode;
  Parameter?: string;
}

export class DiagnosticsError extends Error {
  readonly code: DiagnosticsErrorCode;
  readonly status: number;
  readonly parameter: string | undefined;

  constructor(
    code: DiagnosticsErrorCode,
    message: string,
    extra: { parameter?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause });
    this.name = 'DiagnosticsError';
    this.code = code;
    this.status = DIAGNOSTICS_ERRORS[code].status;
    this.parameter = extra.parameter;
  }

  toBody(): DiagnosticsErrorBody {
    const body: DiagnosticsErrorBody = { Message: this.message, Code: this.code };
    if (this.parameter !== undefined) body.Parameter = this.parameter;
    return body;
  }
}

export const notFound = (message: string): DiagnosticsError => new DiagnosticsError('NOT_FOUND', message);
