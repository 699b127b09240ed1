import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { MatrixError, unrecognized } from '../errors.js';

/** Renders any error as Matrix JSON with Synapse's status; unexpected ones are 500 and logged. */
export function errorHandler(error: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) {
  if (error instanceof MatrixError) return reply.code(error.status).send(error.toJSON());
  const code = (error as FastifyError).code;
  const status = (error as FastifyError).statusCode;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return reply.code(413).send({ errcode: 'M_TOO_LARGE', error: 'Request content is too large' });
  }
  if (code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return reply.code(400).send({ errcode: 'M_NOT_JSON', error: 'Content not JSON.' });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return reply.code(status).send({ errcode: 'M_UNKNOWN', error: error.message });
  }
  // Only the method and path: the query may carry an access token.
  req.log.error({ err: error, method: req.method, path: req.url.split('?')[0] }, 'request failed');
  return reply.code(500).send({ errcode: 'M_UNKNOWN', error: 'Internal server error' });
}

/** 404 for unknown paths, 405 for known paths asked with another method (both M_UNRECOGNIZED). */
export function notFoundHandler(pathKnown: (url: string) => boolean) {
  return (req: FastifyRequest, reply: FastifyReply) => {
    const err = unrecognized(pathKnown(req.url) ? 405 : 404);
    return reply.code(err.status).send(err.toJSON());
  };
}
