import { Type } from '@sinclair/typebox';

/**
 * Request bodies of the room core's routes, as declared on them (`RouteDef.body`). They describe
 * only (no `onError`): the room services check each field in Synapse's order with its texts, and
 * the fuzz reads these to reach past the first check.
 */

const str = Type.String();
const reason = Type.Optional(str);

export const createRoomBody = Type.Object({
  visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])),
  room_alias_name: Type.Optional(str),
  name: Type.Optional(str),
  topic: Type.Optional(str),
  invite: Type.Optional(Type.Array(str)),
  invite_3pid: Type.Optional(Type.Array(Type.Object({ id_server: str, id_access_token: str, medium: str, address: str }))),
  room_version: Type.Optional(str),
  creation_content: Type.Optional(Type.Object({})),
  initial_state: Type.Optional(Type.Array(Type.Object({ type: str, state_key: Type.Optional(str), content: Type.Object({}) }))),
  preset: Type.Optional(Type.Union([Type.Literal('private_chat'), Type.Literal('trusted_private_chat'), Type.Literal('public_chat')])),
  is_direct: Type.Optional(Type.Boolean()),
  power_level_content_override: Type.Optional(Type.Object({})),
});

/** join, leave, knock, forget: an optional reason. */
export const reasonBody = Type.Object({ reason });

/** invite, kick, ban, unban. */
export const targetUserBody = Type.Object({ user_id: str, reason });

/** An event's content: any JSON object (send, state). */
export const eventContentBody = Type.Object({});

export const redactBody = Type.Object({ reason });
