import { Type } from '@sinclair/typebox';

/**
 * Request bodies of the end-to-end encryption routes, as declared on them (`RouteDef.body`). They
 * only describe (no `onError`): the services check bodies themselves, with per-field texts.
 */

const obj = Type.Object({});
const str = Type.String();
const map = (v: ReturnType<typeof Type.Object> | ReturnType<typeof Type.String>) => Type.Record(Type.String(), v);
const key = Type.Union([str, obj]);

export const keysUploadBody = Type.Object({
  device_keys: Type.Optional(Type.Object({ user_id: str, device_id: str, algorithms: Type.Array(str), keys: map(str), signatures: obj })),
  one_time_keys: Type.Optional(Type.Record(Type.String(), key)),
  fallback_keys: Type.Optional(Type.Record(Type.String(), key)),
});
export const keysQueryBody = Type.Object({ device_keys: Type.Record(Type.String(), Type.Array(str)), timeout: Type.Optional(Type.Integer()) });
export const keysClaimBody = Type.Object({ one_time_keys: Type.Record(Type.String(), map(str)), timeout: Type.Optional(Type.Integer()) });
const crossSigningKey = Type.Optional(Type.Object({ user_id: str, usage: Type.Array(str), keys: map(str), signatures: Type.Optional(obj) }));
export const deviceSigningBody = Type.Object({
  master_key: crossSigningKey,
  self_signing_key: crossSigningKey,
  user_signing_key: crossSigningKey,
  auth: Type.Optional(obj),
});
export const signaturesUploadBody = Type.Record(Type.String(), Type.Record(Type.String(), obj));

export const backupVersionBody = Type.Object({ algorithm: str, auth_data: obj, version: Type.Optional(str) });
const backupKey = Type.Object({ first_message_index: Type.Integer(), forwarded_count: Type.Integer(), is_verified: Type.Boolean(), session_data: obj });
export const backupSessionBody = backupKey;
export const backupRoomBody = Type.Object({ sessions: Type.Record(Type.String(), backupKey) });
export const backupKeysBody = Type.Object({ rooms: Type.Record(Type.String(), backupRoomBody) });

export const sendToDeviceBody = Type.Object({ messages: Type.Record(Type.String(), Type.Record(Type.String(), obj)) });
/** Routes that read no body (DELETEs, the admin POST): anything is accepted and ignored. */
export const ignoredBody = obj;
