import type { FastifyRequest } from 'fastify';
import { badJson, notJson } from '../errors.js';

export type JsonObject = Record<string, unknown>;

/**
 * The request body as a JSON object, parsed after authentication (Synapse parses bodies whatever
 * the Content-Type). An empty body is M_NOT_JSON unless the endpoint allows it (`optional`), in
 * which case it reads as `{}`; JSON that is not an object is M_BAD_JSON.
 */
export function jsonObject(req: FastifyRequest, opts: { optional?: boolean } = {}): JsonObject {
  const raw = req.body;
  if (raw === undefined || raw === null || (Buffer.isBuffer(raw) && raw.length === 0)) {
    if (opts.optional) return {};
    throw notJson();
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw));
  } catch {
    throw notJson();
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw badJson('Content must be a JSON object.');
  return value as JsonObject;
}
