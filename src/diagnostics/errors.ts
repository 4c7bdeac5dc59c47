/**
 * Diagnostics answers with the HTTP surface's one error type (src/api/errors.ts): the same codes,
 * statuses and `{"Message", "Code", "Parameter"?}` bodies as the REST API, handled by the same
 * error handler. `DiagnosticsError` is that class under the name this package's code uses.
 */
export { HttpError as DiagnosticsError, notFound } from '../api/errors.js';
