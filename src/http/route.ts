import type { TSchema } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
import { parseUserId } from '../matrix/ids.js';
import type { Requester } from '../services/auth.js';

/**
 * How much authentication a route needs. Checked in `onRequest`, before the body is read, so a
 * request without a token gets 401 whatever its body (as Synapse answers).
 */
export type AuthLevel = 'none' | 'optional' | 'user' | 'admin';

export interface RouteDef {
  method: HTTPMethods | HTTPMethods[];
  path: string | string[];
  auth: AuthLevel;
  /** Guest tokens pass authentication (default: refused with M_GUEST_ACCESS_FORBIDDEN). */
  allowGuests?: boolean;
  /** Tokens of accounts past their account-validity expiry pass (Synapse: logout, renewal). */
  allowExpired?: boolean;
  /** Largest accepted body in bytes (default: the app's JSON limit). */
  bodyLimit?: number;
  /**
   * The JSON body's shape. `jsonObject(req)` checks it when the handler reads the body (so checks
   * Synapse makes first still come first); the fuzz test and API descriptions read it too.
   * Nodes carry Synapse's error for a mismatch with `onError(...)` (src/http/body-schema.ts).
   */
  body?: TSchema;
  /**
   * The body is not parsed or buffered: the handler streams `req.raw` itself (media uploads, so
   * memory does not grow with the file). No body limit applies; the handler enforces its own.
   */
  rawBody?: boolean;
  /** Returns the JSON body; set another status with `reply.code()`. */
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller, set by the auth hook on routes that authenticate. */
    requester: Requester | null;
  }
  interface FastifyContextConfig {
    auth?: AuthLevel;
    allowGuests?: boolean;
    allowExpired?: boolean;
    body?: TSchema;
  }
}

/** The caller of a route declared with `auth: 'user'` or `'admin'`. */
export function requesterOf(req: FastifyRequest): Requester {
  if (!req.requester) throw new Error('route has no authenticated requester: declare auth: user or admin');
  return req.requester;
}

/** The `:userId` path parameter as a parsed full user ID (400 M_INVALID_PARAM when malformed). */
export const userIdParam = (req: { params: unknown }): string => parseUserId((req.params as { userId: string }).userId).full;

/** `/_matrix/client/{v3,r0}<path>`: the stable prefix and the r0 alias that older tools still call. */
export const clientPaths = (path: string) => [`/_matrix/client/v3${path}`, `/_matrix/client/r0${path}`];
