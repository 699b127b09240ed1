import { Type } from '@sinclair/typebox';

/**
 * Request bodies of the room endpoints, as declared on their routes (`RouteDef.body`).
 *
 * createRoom: the schema describes the body only (no `onError`, so nothing is enforced from
 * here): Synapse checks each field in its own order with its own texts and codes (400
 * M_UNSUPPORTED_ROOM_VERSION, "Invalid user_id: …", "'x' is not a valid preset" as M_BAD_JSON…),
 * which checkCreateRoomRequest in src/matrix/room-presets.ts reproduces.
 */

const str = Type.String();
const jsonObject = Type.Object({});

export const createRoomBody = Type.Object({
  visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])),
  room_alias_name: Type.Optional(str),
  name: Type.Optional(str),
  topic: Type.Optional(str),
  invite: Type.Optional(Type.Array(str)),
  invite_3pid: Type.Optional(
    Type.Array(Type.Object({ id_server: str, id_access_token: str, medium: str, address: str })),
  ),
  room_version: Type.Optional(str),
  creation_content: Type.Optional(jsonObject),
  initial_state: Type.Optional(Type.Array(Type.Object({ type: str, state_key: Type.Optional(str), content: jsonObject }))),
  preset: Type.Optional(Type.Union([Type.Literal('private_chat'), Type.Literal('public_chat'), Type.Literal('trusted_private_chat')])),
  is_direct: Type.Optional(Type.Boolean()),
  power_level_content_override: Type.Optional(jsonObject),
});
