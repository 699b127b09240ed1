import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Context } from '../../context.js';
import { MatrixError } from '../../errors.js';
import { jsonValue } from '../../http/body.js';
import { queryString } from '../../http/query.js';
import { clientPaths, requesterOf, type RouteDef } from '../../http/route.js';

const unrecognized = () => new MatrixError(400, 'M_UNRECOGNIZED', 'Unrecognized request');

/** The path after `/pushrules/`, split on `/` (a rule ID cannot hold a slash, encoded or not). */
const rest = (req: FastifyRequest): string[] => ((req.params as Record<string, string>)['*'] ?? '').split('/');

/** `global/<kind>/<ruleId>[/<attr>]` as Synapse reads it for PUT and DELETE. */
function ruleSpec(req: FastifyRequest): { kind: string; ruleId: string; attr: string | null } {
  const [scope, kind, ruleId, attr] = rest(req);
  if (scope !== 'global' || kind === undefined || !ruleId) throw unrecognized();
  return { kind, ruleId, attr: attr ? attr : null };
}

// GET/PUT/DELETE /pushrules/… (spec "Push Rules: API"), with Synapse's path rules.
export const pushRuleRoutes = (ctx: Context): RouteDef[] => {
  const svc = ctx.services.pushRules;
  return [
    {
      method: 'GET',
      path: clientPaths('/pushrules'),
      auth: 'user',
      handler: async (req) => svc.get(requesterOf(req).userId, []),
    },
    {
      method: 'GET',
      path: clientPaths('/pushrules/*'),
      auth: 'user',
      handler: async (req) => svc.get(requesterOf(req).userId, rest(req)),
    },
    {
      method: 'PUT',
      path: clientPaths('/pushrules/*'),
      auth: 'user',
      // A rule, or {enabled} / {actions}: the service checks each shape with Synapse's errors.
      body: Type.Object({}),
      handler: async (req) => {
        const userId = requesterOf(req).userId;
        const spec = ruleSpec(req);
        svc.checkPath(spec.kind, spec.ruleId);
        const body = jsonValue(req);
        if (spec.attr) await svc.setAttribute(userId, spec.kind, spec.ruleId, spec.attr, body);
        else await svc.put(userId, spec.kind, spec.ruleId, body, { before: queryString(req, 'before') || undefined, after: queryString(req, 'after') || undefined });
        return {};
      },
    },
    {
      method: 'DELETE',
      path: clientPaths('/pushrules/*'),
      auth: 'user',
      handler: async (req) => {
        const spec = ruleSpec(req);
        await svc.delete(requesterOf(req).userId, spec.kind, spec.ruleId);
        return {};
      },
    },
  ];
};
