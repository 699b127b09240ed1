import type { TSchema } from '@sinclair/typebox';
import { MatrixError } from '../errors.js';
import { firstMismatch } from '../json-schema.js';

/**
 * Request bodies checked against the TypeBox schema a route declares (`RouteDef.body`), so that the
 * validation, the fuzz test and a later OpenAPI description read one schema.
 *
 * A node is enforced when it, or a node above it, carries the error Synapse answers for it, as
 * `x-error` (an OpenAPI-style extension, made with `onError`). Nodes without one only describe:
 * the service checks them itself, because Synapse checks them in an order (after a locality or
 * config check, say) or with per-case texts a static schema cannot reproduce. So declaring a schema
 * never changes an answer; attaching `onError` is the decision to check from it.
 *
 * The walk itself is src/json-schema.ts, shared with the config loader.
 */

export interface BodyError {
  status?: number;
  errcode: string;
  error: string;
}

/** The error a schema node answers when the value there does not match. */
export const onError = (errcode: string, error: string, status = 400): { 'x-error': BodyError } => ({ 'x-error': { status, errcode, error } });

/** Throws the Matrix error of the first place under an `x-error` where `value` does not match `schema`. */
export function checkBody(schema: TSchema, value: unknown): void {
  const f = firstMismatch(schema, value, { named: true });
  if (!f) return;
  const error = f.error as BodyError;
  throw new MatrixError(error.status ?? 400, error.errcode, error.error);
}

