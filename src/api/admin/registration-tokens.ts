import type { Context } from '../../context.js';
import { jsonObject } from '../../http/body.js';
import { queryBool } from '../../http/query.js';
import type { RouteDef } from '../../http/route.js';
import { registrationTokenJson } from './mappers/registration-token.js';
import { newRegistrationTokenBody, updateRegistrationTokenBody } from './bodies.js';

const tokenParam = (req: { params: unknown }) => (req.params as { token: string }).token;

// Catalogue §5. Synapse registers these only with its own auth (not under MAS), as here.
export const registrationTokenRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.registrationTokens;
  return [
    // GET /_synapse/admin/v1/registration_tokens[?valid=true|false]
    {
      method: 'GET',
      path: '/_synapse/admin/v1/registration_tokens',
      auth: 'admin',
      handler: async (req) => ({ registration_tokens: (await svc.list(queryBool(req, 'valid'))).map(registrationTokenJson) }),
    },
    // POST /_synapse/admin/v1/registration_tokens/new (200, not 201)
    {
      method: 'POST',
      path: '/_synapse/admin/v1/registration_tokens/new',
      auth: 'admin',
      body: newRegistrationTokenBody,
      handler: async (req) => registrationTokenJson(await svc.create(jsonObject(req))),
    },
    // GET /_synapse/admin/v1/registration_tokens/<token>
    {
      method: 'GET',
      path: '/_synapse/admin/v1/registration_tokens/:token',
      auth: 'admin',
      handler: async (req) => registrationTokenJson(await svc.get(tokenParam(req))),
    },
    // PUT /_synapse/admin/v1/registration_tokens/<token>
    {
      method: 'PUT',
      path: '/_synapse/admin/v1/registration_tokens/:token',
      auth: 'admin',
      body: updateRegistrationTokenBody,
      handler: async (req) => registrationTokenJson(await svc.update(tokenParam(req), jsonObject(req))),
    },
    // DELETE /_synapse/admin/v1/registration_tokens/<token>
    {
      method: 'DELETE',
      path: '/_synapse/admin/v1/registration_tokens/:token',
      auth: 'admin',
      handler: async (req) => {
        await svc.delete(tokenParam(req));
        return {};
      },
    },
  ];
};
