import Fastify, { type FastifyInstance } from 'fastify';
import FindMyWay from 'find-my-way';
import type { Context } from '../context.js';
import { SERVER_HEADER } from '../version.js';
import { adminRoutes, clientRoutes, federationRoutes, wellKnownRoutes } from '../api/index.js';
import { adminAuditHook } from './audit.js';
import { authHook } from './auth.js';
import { STANDARD_HEADERS } from './cors.js';
import { errorHandler, notFoundHandler } from './errors.js';
import { accessLogHook, loggerFor, nextRequestId } from './logging.js';
import type { RouteDef } from './route.js';

/** Largest JSON body accepted outside media uploads. */
export const JSON_BODY_LIMIT = 1024 * 1024;

export interface AppOptions {
  /** Listener resource names (`client`, `federation`, ...); default: client and federation. */
  resources?: string[];
  /** The listener's `x_forwarded`: take the client IP from X-Forwarded-For (leftmost entry), as Synapse. */
  xForwarded?: boolean;
  /** Some listener declares `admin`: then only such listeners serve `/_synapse/admin`. */
  adminListener?: boolean;
  /** The listener's port, naming its access logger (`synapse.access.http.<port>`, as Synapse). */
  port?: number;
}

const RESPONSE_HEADERS = { ...STANDARD_HEADERS, server: SERVER_HEADER };

/**
 * Builds the Fastify app for one listener without listening (tests and main.ts listen).
 * `client` mounts the client API, the Synapse Admin API and the well-knowns, as Synapse does;
 * `federation` mounts the key server; `admin` mounts the Admin API, which then leaves `client`
 * (operators need no proxy rules to keep it off the public port). `/health` is on every listener.
 */
export function buildApp(ctx: Context, opts: AppOptions = {}): FastifyInstance {
  const resources = new Set(opts.resources ?? ['client', 'federation']);
  const app = Fastify({
    logger: false,
    bodyLimit: JSON_BODY_LIMIT,
    trustProxy: opts.xForwarded === true,
    genReqId: nextRequestId,
    routerOptions: { maxParamLength: 4096, ignoreTrailingSlash: false },
    // Status for malformed URLs must be Matrix JSON too.
    frameworkErrors: (err, _req, reply) => {
      // A path parameter whose escapes are not UTF-8 (e.g. an encoded surrogate) is a bad parameter.
      const body = err.code === 'FST_ERR_BAD_URL' ? { errcode: 'M_INVALID_PARAM', error: 'Path parameter is not valid percent-encoded UTF-8' } : { errcode: 'M_UNRECOGNIZED', error: 'Unrecognized request' };
      void reply.headers(RESPONSE_HEADERS).code(400 as never).send(body as never);
    },
  });
  app.decorateRequest('requester', null);
  app.setErrorHandler(errorHandler(ctx.log));
  // State-changing Admin API calls go to the audit log once their status is known.
  app.addHook('onResponse', adminAuditHook(ctx.services.adminAudit));
  // One access line per request, after the response (Fastify's own request logging is off).
  app.addHook('onResponse', accessLogHook(loggerFor(ctx.log, opts.port === undefined ? 'synapse.access.http' : `synapse.access.http.${opts.port}`)));

  // Every path known under any method, to tell 405 from 404.
  const known = FindMyWay({ maxParamLength: 4096 });
  const noop = () => {};
  const methods = ['GET', 'PUT', 'POST', 'DELETE'] as const;
  app.addHook('onRoute', (route) => {
    if (route.method === 'OPTIONS' || route.method === 'HEAD') return;
    if (route.config?.auth === undefined) throw new Error(`route ${String(route.method)} ${route.url} declares no auth level`);
    for (const m of ([] as string[]).concat(route.method as string)) if (m !== 'HEAD') known.on(m as 'GET', route.url, noop);
  });
  app.setNotFoundHandler(notFoundHandler((url) => methods.some((m) => known.find(m, url.split('?')[0]!) !== null)));

  // Synapse parses JSON bodies whatever their Content-Type: keep the raw bytes, parse in the handler.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(RESPONSE_HEADERS);
    done();
  });
  app.addHook('onRequest', authHook(ctx.services.auth, ctx.services.clientIps));
  // Held /sync long-polls answer at once on shutdown instead of holding the close until they time out.
  app.addHook('preClose', function (done) {
    ctx.services.sync.wakeAll();
    // A connection whose client went away mid-request may never count as idle; it must not hold
    // the shutdown for ever, so whatever is still open a second later is closed.
    setTimeout(() => this.server.closeAllConnections(), 1000).unref();
    done();
  });

  // Pre-flight requests on any path: 204 with the CORS headers, no auth.
  app.options('*', { config: { auth: 'none' } }, async (_req, reply) => reply.code(204).send());

  const mount = (all: RouteDef[]) => {
    const raw = all.filter((d) => d.rawBody);
    const defs = all.filter((d) => !d.rawBody);
    // Streamed bodies (media uploads) in their own context, whose parser leaves the body unread.
    if (raw.length > 0) {
      void app.register(async (child) => {
        child.removeAllContentTypeParsers();
        child.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
        for (const def of raw) {
          for (const url of ([] as string[]).concat(def.path)) {
            child.route({ method: def.method, url, config: { auth: def.auth, allowGuests: def.allowGuests, allowExpired: def.allowExpired }, handler: def.handler });
          }
        }
      });
    }
    for (const def of defs) {
      for (const url of ([] as string[]).concat(def.path)) {
        app.route({
          method: def.method,
          url,
          bodyLimit: def.bodyLimit,
          config: { auth: def.auth, allowGuests: def.allowGuests, allowExpired: def.allowExpired, body: def.body },
          handler: def.handler,
        });
      }
    }
  };
  // Synapse's health resource, on every listener whatever its resources (load balancers probe it).
  app.get('/health', { config: { auth: 'none' } }, async (_req, reply) => reply.type('text/plain').send('OK'));
  if (resources.has('client')) {
    mount(clientRoutes(ctx));
    mount(wellKnownRoutes(ctx));
  }
  if (resources.has('admin') || (resources.has('client') && opts.adminListener !== true)) mount(adminRoutes(ctx));
  if (resources.has('federation')) mount(federationRoutes(ctx));
  return app;
}
