import { Type } from '@sinclair/typebox';
import { onError } from '../../http/body-schema.js';

/**
 * Request bodies of the Synapse Admin API, as declared on their routes (`RouteDef.body`). Most
 * fields are checked by the services, after the locality and config checks Synapse makes first;
 * those with `onError` are checked from here (see src/http/body-schema.ts).
 */

const str = Type.String();
const bool = Type.Boolean();
const int = Type.Integer();
const nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const sharedSecretRegisterBody = Type.Object({
  nonce: str,
  username: Type.String({ maxLength: 512 }),
  password: Type.String({ maxLength: 512 }),
  displayname: Type.Optional(str),
  admin: Type.Optional(bool),
  user_type: Type.Optional(nullable(str)),
  mac: str,
  inhibit_login: Type.Optional(bool),
  refresh_token: Type.Optional(bool),
});

const threepid = Type.Object({ medium: str, address: str });
const externalId = Type.Object({ auth_provider: str, external_id: str });

export const upsertUserBody = Type.Object({
  password: Type.Optional(nullable(Type.String({ maxLength: 512 }))),
  logout_devices: Type.Optional(bool),
  displayname: Type.Optional(nullable(str)),
  avatar_url: Type.Optional(nullable(str)),
  threepids: Type.Optional(Type.Array(threepid)),
  external_ids: Type.Optional(Type.Array(externalId)),
  admin: Type.Optional(bool),
  deactivated: Type.Optional(bool),
  locked: Type.Optional(bool),
  user_type: Type.Optional(nullable(str)),
  approved: Type.Optional(bool),
});

export const setAdminBody = Type.Object({ admin: bool });
export const deactivateUserBody = Type.Object({ erase: Type.Optional(bool) });
export const resetPasswordBody = Type.Object({ new_password: str, logout_devices: Type.Optional(bool) });
export const suspendBody = Type.Object({ suspend: bool });
export const loginAsBody = Type.Object({ valid_until_ms: Type.Optional(nullable(int)) });
export const createDeviceBody = Type.Object({ device_id: str });
export const deleteDevicesBody = Type.Object({ devices: Type.Array(str) });
export const renameDeviceBody = Type.Object({ display_name: Type.Optional(nullable(str)) });
export const ratelimitOverrideBody = Type.Object({ messages_per_second: Type.Optional(Type.Integer({ minimum: 0 })), burst_count: Type.Optional(Type.Integer({ minimum: 0 })) });
export const experimentalFeaturesBody = Type.Object({ features: Type.Object({}, { patternProperties: { '^.*$': bool } }) });
export const renewAccountBody = Type.Object({ user_id: str, expiration_ts: Type.Optional(int), enable_renewal_emails: Type.Optional(bool) });

// Registration tokens: Synapse checks `token` first on creation and, on update, uses_allowed then
// expiry_time, one text each, so those are checked from here. (On creation `length` counts only
// without `token`, and comes before the others: the service keeps that order.)
const usesAllowed = Type.Union([Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1 }), Type.Null()]);
const expiryTime = Type.Union([Type.Integer(), Type.Null()]);
export const newRegistrationTokenBody = Type.Object({
  token: Type.Optional(Type.String(onError('M_INVALID_PARAM', 'token must be a string'))),
  length: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
  uses_allowed: Type.Optional(usesAllowed),
  expiry_time: Type.Optional(expiryTime),
});
export const updateRegistrationTokenBody = Type.Object({
  uses_allowed: Type.Optional(Type.Union(usesAllowed.anyOf, onError('M_INVALID_PARAM', 'uses_allowed must be a non-negative integer or null'))),
  expiry_time: Type.Optional(Type.Union(expiryTime.anyOf, onError('M_INVALID_PARAM', 'expiry_time must be an integer or null'))),
});

// Rooms (catalogue §6.9, 6.13, 6.15): checked by the service, in Synapse's order.
export const blockRoomBody = Type.Object({ block: bool });
export const makeRoomAdminBody = Type.Object({ user_id: Type.Optional(str) });
export const joinRoomBody = Type.Object({ user_id: str });
