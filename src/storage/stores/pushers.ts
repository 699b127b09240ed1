import type { Selectable } from 'kysely';
import type { Db } from '../database.js';
import type { PushersTable } from '../schema/tables.js';

/** Pushers (Synapse's `pushers` table): one row per (app_id, pushkey, user). */

export type PusherRow = Selectable<PushersTable>;

export interface PusherValues {
  userId: string;
  kind: string;
  appId: string;
  appDisplayName: string | null;
  deviceDisplayName: string | null;
  pushkey: string;
  lang: string | null;
  /** JSON text. */
  data: string | null;
  profileTag: string | null;
  enabled: boolean;
  ts: number;
  /** Only used when the pusher is new: an update keeps the creator's session. */
  deviceId: string | null;
  /**
   * The room event stream position it is set at: it is owed the events after it (the pusher
   * queue). Written on creation and on every update, as Synapse's add_pusher does.
   */
  lastStreamOrdering: number;
  accessTokenId: number | null;
}

export async function listPushers(db: Db, userId: string): Promise<PusherRow[]> {
  return db.selectFrom('pushers').selectAll().where('user_name', '=', userId).orderBy('id').execute();
}

export async function getPusher(db: Db, userId: string, appId: string, pushkey: string): Promise<PusherRow | undefined> {
  return db
    .selectFrom('pushers')
    .selectAll()
    .where('user_name', '=', userId)
    .where('app_id', '=', appId)
    .where('pushkey', '=', pushkey)
    .executeTakeFirst();
}

/** Creates the pusher or updates the mutable fields of an existing one. */
export async function upsertPusher(db: Db, p: PusherValues): Promise<void> {
  const mutable = {
    kind: p.kind,
    app_display_name: p.appDisplayName,
    device_display_name: p.deviceDisplayName,
    lang: p.lang,
    data: p.data,
    profile_tag: p.profileTag,
    enabled: p.enabled,
    ts: p.ts,
    last_stream_ordering: p.lastStreamOrdering,
  };
  await db
    .insertInto('pushers')
    .values({
      ...mutable,
      user_name: p.userId,
      app_id: p.appId,
      pushkey: p.pushkey,
      access_token: p.accessTokenId,
      device_id: p.deviceId,
      last_success: null,
      failing_since: null,
    })
    .onConflict((oc) => oc.columns(['app_id', 'pushkey', 'user_name']).doUpdateSet(mutable))
    .execute();
}

export async function deletePusher(db: Db, userId: string, appId: string, pushkey: string): Promise<void> {
  await db.deleteFrom('pushers').where('user_name', '=', userId).where('app_id', '=', appId).where('pushkey', '=', pushkey).execute();
}

/** Removes the same (app_id, pushkey) registered by other users (a device changed hands). */
export async function deletePushersOfOtherUsers(db: Db, appId: string, pushkey: string, exceptUserId: string): Promise<void> {
  await db.deleteFrom('pushers').where('app_id', '=', appId).where('pushkey', '=', pushkey).where('user_name', '!=', exceptUserId).execute();
}

/** For device deletion and logout: the pushers those devices created. */
export async function deletePushersForDevices(db: Db, userId: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  await db.deleteFrom('pushers').where('user_name', '=', userId).where('device_id', 'in', deviceIds).execute();
}

/** For deactivation (catalogue §3.5 step 6). */
export async function deleteAllPushers(db: Db, userId: string): Promise<void> {
  await db.deleteFrom('pushers').where('user_name', '=', userId).execute();
}
