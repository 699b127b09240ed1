import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { MatrixError, unrecognized } from '../errors.js';
import { redactUrl, requesterLabel } from './logging.js';

/**
 * How much of an over-limit body is read and discarded before the 413 goes out. Closing a socket
 * that still has unread bytes makes the kernel send a reset, which clients report as a network
 * error instead of the 413; past these bounds the client gets the 413 and the reset anyway.
 */
const DRAIN_MAX_BYTES = 64 * 1024 * 1024;
const DRAIN_MAX_MS = 10_000;

const TOO_LARGE = { errcode: 'M_TOO_LARGE', error: 'Request content is too large' };

/** Resolves once the rest of the request body has arrived (and been discarded), or a bound is hit. */
function drainRequest(req: FastifyRequest): Promise<void> {
  const raw = req.raw;
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const finish = () => {
      clearTimeout(timer);
      raw.off('data', onData);
      raw.off('end', finish);
      raw.off('close', finish);
      raw.off('error', finish);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) finish();
    };
    const timer = setTimeout(finish, DRAIN_MAX_MS);
    timer.unref();
    raw.on('data', onData);
    raw.once('end', finish);
    raw.once('close', finish);
    raw.once('error', finish);
    raw.resume();
  });
}

/**
 * Renders any error as Matrix JSON with Synapse's status. Every 5xx is logged with the request id,
 * method, route pattern, requester, errcode and stack; never the body, headers or a token.
 */
export function errorHandler(log: Logger) {
  const logServerError = (error: Error, req: FastifyRequest, errcode: string, status: number) => {
    log.error(
      { reqId: req.id, method: req.method, route: req.routeOptions.url ?? null, path: redactUrl(req.url), requester: requesterLabel(req), status, errcode, err: error },
      'Request failed',
    );
  };
  return function handleError(error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
    if (error instanceof MatrixError) {
      if (error.status >= 500) logServerError(error, req, error.errcode, error.status);
      return reply.code(error.status).send(error.toJSON());
    }
    const code = (error as FastifyError).code;
    const status = (error as FastifyError).statusCode;
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Fastify has set `Connection: close`; let the client finish sending first.
      return drainRequest(req).then(() => {
        void reply.code(413);
        return TOO_LARGE;
      });
    }
    if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
      return reply.code(400).send({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
    }
    if (status !== undefined && status >= 400 && status < 500) {
      return reply.code(status).send({ errcode: 'M_UNKNOWN', error: error.message });
    }
    logServerError(error, req, 'M_UNKNOWN', 500);
    return reply.code(500).send({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
  };
}

/** 404 for unknown paths, 405 for known paths asked with another method (both M_UNRECOGNIZED). */
export function notFoundHandler(pathKnown: (url: string) => boolean) {
  return (req: FastifyRequest, reply: FastifyReply) => {
    const err = unrecognized(pathKnown(req.url) ? 405 : 404);
    return reply.code(err.status).send(err.toJSON());
  };
}
