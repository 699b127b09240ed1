import type { FastifyRequest } from 'fastify';
import { badJson, notJson } from '../errors.js';
import { checkJsonValue } from './input-gate.js';
import { checkBody } from './body-schema.js';

export type JsonObject = Record<string, unknown>;

// Strict: bytes that are not UTF-8 (including encoded surrogates) are not JSON, as in Synapse;
// a BOM is kept so that it fails JSON.parse as it always did.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The request body as a JSON object, parsed after authentication (Synapse parses bodies whatever
 * the Content-Type). An empty body is M_NOT_JSON unless the endpoint allows it (`optional`), in
 * which case it reads as `{}`; JSON that is not an object is M_BAD_JSON. Text no engine stores the
 * same (NUL, lone surrogates) and excessive nesting are M_BAD_JSON (see input-gate.ts); then the
 * route's declared `body` schema, if any, is checked.
 */
export function jsonObject(req: FastifyRequest, opts: { optional?: boolean } = {}): JsonObject {
  const raw = req.body;
  if (raw === undefined || raw === null || (Buffer.isBuffer(raw) && raw.length === 0)) {
    if (opts.optional) return {};
    throw notJson();
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.isBuffer(raw) ? utf8.decode(raw) : String(raw));
  } catch {
    throw notJson();
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badJson('Content must be a JSON object.');
  checkJsonValue(value);
  const schema = req.routeOptions?.config?.body;
  if (schema) checkBody(schema, value);
  return value as JsonObject;
}

/**
 * The request body as any JSON value (Synapse's parse_json_value_from_request: a bare `true` is a
 * body too), with the same rules as `jsonObject` otherwise. No route schema is applied.
 */
export function jsonValue(req: FastifyRequest): unknown {
  const raw = req.body;
  if (raw === undefined || raw === null || (Buffer.isBuffer(raw) && raw.length === 0)) throw notJson();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.isBuffer(raw) ? utf8.decode(raw) : String(raw));
  } catch {
    throw notJson();
  }
  checkJsonValue(value);
  return value;
}
