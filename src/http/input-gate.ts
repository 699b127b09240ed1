import type { FastifyRequest } from 'fastify';
import { badJson, invalidParam } from '../errors.js';

/**
 * The one gate every piece of client text passes before it can reach storage, so that both engines
 * see the same input: PostgreSQL refuses U+0000 in text (a 500 if it got that far) while SQLite
 * stores it, and each engine mangles an unpaired UTF-16 surrogate its own way. Such text is
 * refused with a 400 here: M_BAD_JSON in a body, M_INVALID_PARAM in a query or path parameter or
 * an access token. Every check is a native string scan (indexOf, isWellFormed), once per string.
 */

// ES2024 (Node 20 has it; the project's TypeScript lib is older).
declare global {
  interface String {
    isWellFormed(): boolean;
  }
}

/** Deepest nesting of objects and arrays accepted in a JSON body (the top-level object is 1). */
export const MAX_JSON_DEPTH = 100;

/** Why a string is refused, or null when it is fine to store. */
export function stringFault(s: string): 'NUL' | 'surrogate' | null {
  if (s.indexOf('\u0000') !== -1) return 'NUL';
  if (!s.isWellFormed()) return 'surrogate';
  return null;
}

const FAULT_TEXT = { NUL: 'a NUL (U+0000) character', surrogate: 'an unpaired UTF-16 surrogate' } as const;

/**
 * Checks a parsed JSON body: every string (values and keys), the nesting depth, and numbers that
 * JSON.parse turned into Infinity (e.g. 1e400), which no engine can store as sent.
 */
export function checkJsonValue(value: unknown): void {
  visit(value, 0);
}

function visit(v: unknown, depth: number): void {
  if (typeof v === 'string') {
    const fault = stringFault(v);
    if (fault) throw badJson(`Content contains ${FAULT_TEXT[fault]}.`);
    return;
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw badJson('Content contains a number out of range.');
    return;
  }
  if (v === null || typeof v !== 'object') return;
  if (++depth > MAX_JSON_DEPTH) throw badJson(`Content is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) visit(v[i], depth);
    return;
  }
  for (const key in v as Record<string, unknown>) {
    const fault = stringFault(key);
    if (fault) throw badJson(`Content contains ${FAULT_TEXT[fault]}.`);
    visit((v as Record<string, unknown>)[key], depth);
  }
}

/** A query or path parameter (or a token) that must not reach storage. */
function checkParam(kind: string, name: string, value: string): void {
  const fault = stringFault(value);
  if (fault) throw invalidParam(`${kind} '${name}' contains ${FAULT_TEXT[fault]}`);
}

/**
 * A raw query component whose percent-escapes are not UTF-8 (`%ED%A0%80` is an encoded surrogate,
 * `%FF` no character at all). The query parser leaves such a component undecoded, so it would
 * otherwise reach storage as its escaped text; an escape-like `%` not followed by two hex digits
 * stays literal, as Synapse reads it.
 */
function undecodable(component: string): boolean {
  if (component.indexOf('%') === -1) return false;
  try {
    decodeURIComponent(component.replace(/%(?![0-9A-Fa-f]{2})/g, '%25'));
    return false;
  } catch {
    return true;
  }
}

function checkRawQuery(url: string): void {
  const q = url.indexOf('?');
  if (q === -1 || url.indexOf('%', q) === -1) return;
  for (const pair of url.slice(q + 1).split('&')) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (undecodable(key) || (eq !== -1 && undecodable(pair.slice(eq + 1)))) {
      throw invalidParam(`Query parameter '${key}' is not valid percent-encoded UTF-8`);
    }
  }
}

/** Checks the decoded query (keys and values) and path parameters of a request. */
export function checkRequestParams(req: FastifyRequest): void {
  checkRawQuery(req.url);
  const query = req.query as Record<string, string | string[] | undefined> | undefined;
  if (query) {
    for (const key in query) {
      checkParam('Query parameter', key, key);
      const v = query[key];
      if (typeof v === 'string') checkParam('Query parameter', key, v);
      else if (Array.isArray(v)) for (const s of v) checkParam('Query parameter', key, s);
    }
  }
  const params = req.params as Record<string, string | undefined> | undefined;
  if (params) {
    for (const key in params) {
      const v = params[key];
      if (typeof v === 'string') checkParam('Path parameter', key, v);
    }
  }
}

/** An access token from a header (the query form was already checked as a query parameter). */
export function checkToken(token: string): void {
  checkParam('Access token', 'access_token', token);
}
