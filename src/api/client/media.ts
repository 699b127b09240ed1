import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { invalidParam, MatrixError, missingParam } from '../../errors.js';
import { stringFault } from '../../http/input-gate.js';
import { queryBool, queryEnum, queryInt, queryString } from '../../http/query.js';
import { requesterOf, type RouteDef } from '../../http/route.js';
import { contentDisposition, MEDIA_SECURITY_HEADERS, responseContentType } from '../../services/media/headers.js';
import { DEFAULT_MAX_TIMEOUT_MS, MAXIMUM_ALLOWED_MAX_TIMEOUT_MS, type MediaFile, type ServeOptions, type UploadOptions } from '../../services/media/media.js';

/**
 * The content repository (spec: "Content repository"): uploads, asynchronous uploads, downloads,
 * thumbnails, the upload limit and URL previews, under the legacy `/_matrix/media/{v3,r0}` paths
 * (no token needed to read) and the authenticated `/_matrix/client/v1/media` ones. Upload bodies
 * are never buffered: the routes are `rawBody`, and the service streams `req.raw` to disk.
 */

const LEGACY = ['/_matrix/media/v3', '/_matrix/media/r0'];
const AUTHENTICATED = '/_matrix/client/v1/media';
const legacy = (path: string) => LEGACY.map((p) => p + path);

type MediaParams = { serverName: string; mediaId: string; fileName?: string };

function uploadOptions(req: FastifyRequest): UploadOptions {
  const fileName = queryString(req, 'filename');
  if (fileName !== undefined && stringFault(fileName) !== null) throw invalidParam('filename must be valid UTF-8 text without NUL');
  const header = req.headers['content-length'];
  let contentLength: number | undefined;
  if (header !== undefined) {
    if (!/^\d+$/.test(header)) throw new MatrixError(400, 'M_UNKNOWN', 'Invalid Content-Length');
    contentLength = Number(header);
  }
  const contentType = req.headers['content-type'];
  if (contentType !== undefined && stringFault(contentType) !== null) throw invalidParam('Invalid Content-Type');
  return { contentType, fileName, contentLength };
}

function serveOptions(req: FastifyRequest, authenticatedEndpoint: boolean): ServeOptions {
  const timeout = queryInt(req, 'timeout_ms', DEFAULT_MAX_TIMEOUT_MS);
  const bypass = queryBool(req, 'admin_unsafely_bypass_quarantine', false);
  return {
    authenticatedEndpoint,
    // Authenticating waited for the changes committed before the request (AuthService.authenticate).
    synced: req.requester !== null,
    bypassQuarantine: bypass && req.requester?.admin === true,
    allowRemote: queryBool(req, 'allow_remote', true),
    timeoutMs: Math.min(timeout, MAXIMUM_ALLOWED_MAX_TIMEOUT_MS),
  };
}

/** Sends a media file with Synapse's headers; a streamed file's handle closes with the stream. */
function sendFile(reply: FastifyReply, file: MediaFile, fileName: string | null): FastifyReply {
  reply.headers(MEDIA_SECURITY_HEADERS);
  reply.header('content-type', responseContentType(file.mediaType));
  reply.header('content-disposition', contentDisposition(file.mediaType, fileName ?? file.uploadName));
  reply.header('content-length', String(file.size));
  return reply.code(200).send(file.data ?? file.handle!.createReadStream());
}

/** A refused upload: the rest of the body is not read, so the connection closes after the answer. */
async function receiving<T>(reply: FastifyReply, upload: () => Promise<T>): Promise<T> {
  try {
    return await upload();
  } catch (e) {
    reply.header('connection', 'close');
    throw e;
  }
}

export const mediaRoutes = (ctx: Context): RouteDef[] => {
  const media = ctx.services.media;

  const download = (authenticatedEndpoint: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { serverName, mediaId, fileName } = req.params as MediaParams;
    const file = await media.download(serverName, mediaId, serveOptions(req, authenticatedEndpoint));
    return sendFile(reply, file, fileName ?? null);
  };

  const thumbnail = (authenticatedEndpoint: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const { serverName, mediaId } = req.params as MediaParams;
    const width = queryInt(req, 'width', undefined, true)!;
    const height = queryInt(req, 'height', undefined, true)!;
    if (width < 1 || height < 1) throw invalidParam('width and height must be positive');
    const method = queryEnum(req, 'method', ['crop', 'scale'] as const, 'scale');
    queryBool(req, 'animated');
    queryBool(req, 'allow_redirect');
    const file = await media.thumbnail(serverName, mediaId, width, height, method, serveOptions(req, authenticatedEndpoint));
    return sendFile(reply, file, null);
  };

  const previewUrl = async (req: FastifyRequest) => {
    const url = queryString(req, 'url');
    if (url === undefined) throw missingParam("Missing string query parameter 'url'");
    queryInt(req, 'ts');
    return media.previewUrl(url);
  };

  const routes: RouteDef[] = [
    {
      method: 'POST',
      path: legacy('/upload'),
      auth: 'user',
      rawBody: true,
      handler: async (req, reply) => receiving(reply, () => media.upload(requesterOf(req).userId, req.raw, uploadOptions(req))),
    },
    {
      method: 'PUT',
      path: legacy('/upload/:serverName/:mediaId'),
      auth: 'user',
      rawBody: true,
      handler: async (req, reply) => {
        const { serverName, mediaId } = req.params as MediaParams;
        return receiving(reply, () => media.uploadTo(requesterOf(req).userId, serverName, mediaId, req.raw, uploadOptions(req)));
      },
    },
    {
      method: 'POST',
      path: '/_matrix/media/v1/create',
      auth: 'user',
      handler: async (req) => media.create(requesterOf(req).userId),
    },
    { method: 'GET', path: legacy('/config'), auth: 'user', handler: async () => media.uploadConfig() },
    { method: 'GET', path: `${AUTHENTICATED}/config`, auth: 'user', allowGuests: true, handler: async () => media.uploadConfig() },
    // Reading needs no token on the legacy paths; one is looked at only for an admin's quarantine bypass.
    { method: 'GET', path: [...legacy('/download/:serverName/:mediaId'), ...legacy('/download/:serverName/:mediaId/:fileName')], auth: 'optional', handler: download(false) },
    { method: 'GET', path: legacy('/thumbnail/:serverName/:mediaId'), auth: 'optional', handler: thumbnail(false) },
    {
      method: 'GET',
      path: [`${AUTHENTICATED}/download/:serverName/:mediaId`, `${AUTHENTICATED}/download/:serverName/:mediaId/:fileName`],
      auth: 'user',
      allowGuests: true,
      handler: download(true),
    },
    { method: 'GET', path: `${AUTHENTICATED}/thumbnail/:serverName/:mediaId`, auth: 'user', allowGuests: true, handler: thumbnail(true) },
  ];
  // Synapse registers no preview route when previews are off: such requests are unrecognized (404).
  if (ctx.config.media.urlPreviewEnabled) {
    routes.push(
      { method: 'GET', path: legacy('/preview_url'), auth: 'user', handler: previewUrl },
      { method: 'GET', path: `${AUTHENTICATED}/preview_url`, auth: 'user', allowGuests: true, handler: previewUrl },
    );
  }
  return routes;
};
