import type { Context } from '../../context.js';
import { notFound } from '../../errors.js';
import type { RouteDef } from '../../http/route.js';
import { parseServerName } from '../../matrix/server-name.js';

// GET /.well-known/matrix/client (spec client-server §4.1) and, with serve_server_wellknown,
// GET /.well-known/matrix/server (server-server §2.1). Without the option the server path is not
// mounted at all, so it answers 404 M_UNRECOGNIZED like any unknown path.
export const wellKnownRoutes = (ctx: Context): RouteDef[] => {
  const cfg = ctx.config;
  const client = { 'm.homeserver': { base_url: cfg.publicBaseUrl } };
  // Without public_baseurl the default https://<server_name>/ is a guess (https://localhost/ on a
  // generated config): clients and Ketesa would follow it and fail, so answer 404 as Synapse does
  // (its text, as Matrix JSON rather than its text/plain) and clients keep the URL they were given.
  const routes: RouteDef[] = [
    {
      method: 'GET',
      path: '/.well-known/matrix/client',
      auth: 'none',
      handler: async () => {
        if (!cfg.serveClientWellknown) throw notFound('.well-known not available');
        return client;
      },
    },
  ];
  if (cfg.serveServerWellknown) {
    // Federation then goes to https://<server_name>/ on 443 (or the port in server_name), not 8448.
    const parsed = parseServerName(cfg.serverName);
    const server = { 'm.server': `${parsed?.host ?? cfg.serverName}:${parsed?.port ?? 443}` };
    routes.push({ method: 'GET', path: '/.well-known/matrix/server', auth: 'none', handler: async () => server });
  }
  return routes;
};
