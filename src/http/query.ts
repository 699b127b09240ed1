import type { FastifyRequest } from 'fastify';
import { invalidParam, missingParam } from '../errors.js';

/**
 * Query-string parsing with Synapse's rules and messages (catalogue §1.4): the first value of a
 * repeated key wins, integers must be non-negative, booleans are exactly `true`/`false`.
 */

type Query = Record<string, string | string[] | undefined>;

const q = (req: FastifyRequest) => req.query as Query;

export function queryString(req: FastifyRequest, name: string): string | undefined {
  const v = q(req)[name];
  return Array.isArray(v) ? v[0] : v;
}

export function queryStrings(req: FastifyRequest, name: string): string[] {
  const v = q(req)[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

export function queryInt(req: FastifyRequest, name: string, dflt: number): number;
export function queryInt(req: FastifyRequest, name: string, dflt?: undefined, required?: boolean): number | undefined;
export function queryInt(req: FastifyRequest, name: string, dflt?: number, required = false): number | undefined {
  const v = queryString(req, name);
  if (v === undefined) {
    if (required) throw missingParam(`Missing integer query parameter '${name}'`);
    return dflt;
  }
  // Synapse 1.94 rejects anything but plain digits (so negatives too) with this one message.
  if (!/^\d+$/.test(v)) throw invalidParam(`Query parameter ${name} must be a string representing a positive integer.`);
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalidParam(`Query parameter '${name}' must be an integer`);
  return n;
}

export function queryBool(req: FastifyRequest, name: string, dflt: boolean): boolean;
export function queryBool(req: FastifyRequest, name: string, dflt?: undefined): boolean | undefined;
export function queryBool(req: FastifyRequest, name: string, dflt?: boolean): boolean | undefined {
  const v = queryString(req, name);
  if (v === undefined) return dflt;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalidParam(`Boolean query parameter '${name}' must be one of ['true', 'false']`);
}

export function queryEnum<T extends string>(req: FastifyRequest, name: string, allowed: readonly T[], dflt: T): T;
export function queryEnum<T extends string>(req: FastifyRequest, name: string, allowed: readonly T[], dflt?: undefined): T | undefined;
export function queryEnum<T extends string>(req: FastifyRequest, name: string, allowed: readonly T[], dflt?: T): T | undefined {
  const v = queryString(req, name);
  if (v === undefined) return dflt;
  if (!(allowed as readonly string[]).includes(v)) {
    throw invalidParam(`Query parameter '${name}' must be one of [${allowed.map((a) => `'${a}'`).join(', ')}]`);
  }
  return v as T;
}
