import { Type } from '@sinclair/typebox';
import { onError } from '../../http/body-schema.js';

/**
 * Request bodies of the client API, as declared on their routes (`RouteDef.body`). Fields with
 * `onError` are checked from here with Synapse's text; the others describe what the handler or
 * service checks itself (see src/http/body-schema.ts).
 */

const str = Type.String();
const optStr = Type.Optional(Type.Union([Type.String(), Type.Null()]));
const authDict = (model: string) =>
  Type.Optional(Type.Union([Type.Object({}), Type.Null()], onError('M_BAD_JSON', `1 validation error for ${model}\nauth\n  value is not a valid dict (type=type_error.dict)`)));

const identifier = Type.Object({ type: str, user: Type.Optional(str), medium: Type.Optional(str), address: Type.Optional(str) });

export const loginBody = Type.Object({
  type: str,
  identifier: Type.Optional(identifier),
  user: Type.Optional(str),
  password: Type.Optional(str),
  device_id: optStr,
  initial_device_display_name: optStr,
});

export const registerBody = Type.Object({
  username: Type.Optional(Type.String({ maxLength: 512 })),
  password: Type.Optional(Type.String({ maxLength: 512 })),
  device_id: optStr,
  initial_device_display_name: optStr,
  inhibit_login: Type.Optional(Type.Boolean()),
  auth: Type.Optional(Type.Object({ type: Type.Optional(str), session: Type.Optional(str) })),
});

export const passwordBody = Type.Object({
  new_password: Type.Optional(Type.String({ maxLength: 512 })),
  logout_devices: Type.Optional(Type.Boolean()),
  auth: Type.Optional(Type.Object({})),
});

export const deactivateBody = Type.Object({
  erase: Type.Optional(Type.Union([Type.Boolean(), Type.Null()], onError('M_BAD_JSON', "Param 'erase' must be a boolean, if given"))),
  auth: Type.Optional(Type.Object({})),
});

export const renameDeviceBody = Type.Object({
  display_name: Type.Optional(
    Type.Union([Type.String(), Type.Null()], onError('M_BAD_JSON', '1 validation error for PutBody\ndisplay_name\n  str type expected (type=type_error.str)')),
  ),
});

export const deleteDeviceBody = Type.Object({ auth: authDict('DeleteBody') });

// `devices` is checked by the handler: Synapse's text names the index of a bad entry.
export const deleteDevicesBody = Type.Object({ auth: authDict('PostBody'), devices: Type.Array(str) });

export const displaynameBody = Type.Object({ displayname: Type.Union([Type.String(), Type.Null()]) });
export const avatarUrlBody = Type.Object({ avatar_url: Type.Union([Type.String(), Type.Null()]) });

/** Account data content: any JSON object. */
export const accountDataBody = Type.Object({});

export const pusherBody = Type.Object({
  pushkey: str,
  kind: Type.Union([Type.String(), Type.Null()]),
  app_id: str,
  app_display_name: Type.Optional(str),
  device_display_name: Type.Optional(str),
  profile_tag: Type.Optional(str),
  lang: Type.Optional(str),
  data: Type.Optional(Type.Object({ url: Type.Optional(str), format: Type.Optional(str) })),
  append: Type.Optional(Type.Boolean()),
});
