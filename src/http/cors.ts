import type { FastifyReply } from 'fastify';

/**
 * Headers Synapse sends on every response, errors included: CORS (admin UIs run in browsers on
 * other origins) and no caching.
 */
export const STANDARD_HEADERS = Object.freeze({
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, HEAD, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'X-Requested-With, Content-Type, Authorization, Date',
  'access-control-expose-headers': 'Synapse-Trace-Id, Server',
  'cache-control': 'no-cache, no-store, must-revalidate',
});

export function applyStandardHeaders(reply: FastifyReply, server: string): void {
  reply.headers(STANDARD_HEADERS);
  reply.header('server', server);
}
