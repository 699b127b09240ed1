import type { FastifyReply, FastifyRequest } from 'fastify';
import { MatrixError } from '../errors.js';
import { extractToken, requireAdmin, type AuthService } from '../services/auth.js';
import type { ClientIpsService } from '../services/client-ips.js';
import { checkRequestParams, checkToken } from './input-gate.js';

function authorizationHeaders(req: FastifyRequest): string | string[] | undefined {
  const header = req.headers.authorization;
  if (header === undefined) return undefined;
  // Node keeps only the first of repeated Authorization headers; count them in the raw list.
  const raw = req.raw.rawHeaders;
  const all: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === 13 && raw[i]!.toLowerCase() === 'authorization') all.push(raw[i + 1]!);
  return all.length > 1 ? all : header;
}

/** The User-Agent header, or "" as Synapse records a request without one. */
function userAgentOf(req: FastifyRequest): string {
  const ua = req.headers['user-agent'];
  return typeof ua === 'string' ? ua : '';
}

/**
 * The onRequest hook: authenticates per the route's declared level (catalogue §1.2) and notes the
 * client's IP and user agent (in memory; see ClientIpsService) before the admin check, as Synapse.
 * First of all, on every route, query and path parameters pass the input gate (input-gate.ts), so
 * `?access_token=%00` is a 400 on both engines rather than a token look-up.
 */
export function authHook(auth: AuthService, clientIps?: ClientIpsService) {
  return async function authenticate(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const config = req.routeOptions.config;
    const level = config.auth;
    // Unknown paths (404/405) and CORS pre-flights reach nothing; every route's input is gated.
    if (level === undefined || req.method === 'OPTIONS') return;
    checkRequestParams(req);
    if (level === 'none') return;
    const token = extractToken(authorizationHeaders(req), (req.query as Record<string, unknown>).access_token);
    if (token === null) {
      if (level === 'optional') return;
      throw new MatrixError(401, 'M_MISSING_TOKEN', 'Missing access token');
    }
    checkToken(token);
    const requester = await auth.authenticate(token, { allowGuest: config.allowGuests === true, allowExpired: config.allowExpired === true });
    clientIps?.record(requester.authenticatedBy ?? requester.userId, token, requester.deviceId, req.ip, userAgentOf(req));
    if (level === 'admin') requireAdmin(requester);
    req.requester = requester;
  };
}
