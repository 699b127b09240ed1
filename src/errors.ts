/**
 * Matrix errors: every failure a client sees is `{errcode, error}` with the HTTP status Synapse uses.
 * Services and handlers throw MatrixError; the HTTP layer renders it.
 */
export class MatrixError extends Error {
  constructor(
    readonly status: number,
    readonly errcode: string,
    message: string,
    /** Extra top-level fields of the error body (e.g. `soft_logout`). */
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'MatrixError';
  }

  toJSON(): Record<string, unknown> {
    return { errcode: this.errcode, error: this.message, ...this.extra };
  }
}

// Shorthands for the codes that recur across the API (catalogue §1.4).
export const badRequest = (message: string, errcode = 'M_UNKNOWN') => new MatrixError(400, errcode, message);
export const invalidParam = (message: string) => new MatrixError(400, 'M_INVALID_PARAM', message);
export const missingParam = (message: string) => new MatrixError(400, 'M_MISSING_PARAM', message);
export const badJson = (message: string) => new MatrixError(400, 'M_BAD_JSON', message);
export const notJson = (message = 'Content not JSON.') => new MatrixError(400, 'M_NOT_JSON', message);
export const forbidden = (message: string, errcode = 'M_FORBIDDEN') => new MatrixError(403, errcode, message);
export const notFound = (message: string) => new MatrixError(404, 'M_NOT_FOUND', message);
export const unrecognized = (status: 404 | 405) => new MatrixError(status, 'M_UNRECOGNIZED', 'Unrecognized request');
