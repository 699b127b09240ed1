import type { Context } from '../context.js';
import type { RouteDef } from '../http/route.js';
import { sharedSecretRegisterRoutes } from './admin/register.js';
import { serverVersionRoutes } from './admin/server-version.js';
import { adminUserRoutes } from './admin/users.js';
import { accountRoutes } from './client/account.js';
import { loginRoutes } from './client/login.js';
import { registerRoutes } from './client/register.js';
import { versionsRoutes } from './client/versions.js';

/** Every route of a listener resource, by area. */

export const clientRoutes = (ctx: Context): RouteDef[] => [
  ...versionsRoutes(),
  ...loginRoutes(ctx),
  ...registerRoutes(ctx),
  ...accountRoutes(ctx),
];

export const adminRoutes = (ctx: Context): RouteDef[] => [
  ...serverVersionRoutes(),
  ...sharedSecretRegisterRoutes(ctx),
  ...adminUserRoutes(ctx),
];

export const wellKnownRoutes = (_ctx: Context): RouteDef[] => [];

export const federationRoutes = (_ctx: Context): RouteDef[] => [];
