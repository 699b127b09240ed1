import type { UserListPage, UserListRow } from '../../../services/user-list.js';

// SMALLINT 0/1 on both engines, BOOLEAN (or NULL) for the newer columns: all become JSON booleans.
const flag = (v: unknown) => Boolean(v);

/**
 * One entry of GET /_synapse/admin/v2/users in Synapse 1.94's field order, with current Synapse's
 * types: every flag a JSON boolean (1.94 answered 0/1 for is_guest, admin, deactivated,
 * shadow_banned and locked, response 07; its docs and later releases say bool, and Ketesa reads
 * `locked` only as a boolean), `creation_ts` in **milliseconds**. `approved` (emitted by later
 * Synapse whether or not MSC3866 is on, catalogue §3.1) is true unless the column says false.
 */
export function userListEntryJson(u: UserListRow) {
  return {
    name: u.name,
    user_type: u.user_type,
    is_guest: flag(u.is_guest),
    admin: flag(u.admin),
    deactivated: flag(u.deactivated),
    shadow_banned: flag(u.shadow_banned),
    displayname: u.displayname,
    avatar_url: u.avatar_url,
    creation_ts: u.creation_ts === null ? null : Number(u.creation_ts) * 1000,
    approved: u.approved === null ? true : flag(u.approved),
    erased: flag(u.erased),
    last_seen_ts: u.last_seen_ts === null ? null : Number(u.last_seen_ts),
    locked: flag(u.locked),
  };
}

/** Encoded bodies of pages the service serves from its cache (same rows array, same bytes). */
const encoded = new WeakMap<readonly UserListRow[], { total: number; nextToken?: string; body: Buffer }>();

/**
 * The response body `{users, total[, next_token]}` as UTF-8 JSON; next_token is a string
 * (catalogue §1.5). Serialising and encoding a 100-user page costs more than the rest of a cached
 * request, so the bytes are kept as long as the service keeps the page.
 */
export function userListBody(page: UserListPage): Buffer {
  const hit = encoded.get(page.users);
  if (hit && hit.total === page.total && hit.nextToken === page.nextToken) return hit.body;
  // A page with no rows (limit=0) would hand back its own offset as next_token, and a tool paging
  // until next_token is absent would loop forever (Synapse 1.94 does): no rows, no next_token.
  const next = page.nextToken === undefined || page.users.length === 0 ? '' : `,"next_token":${JSON.stringify(page.nextToken)}`;
  const body = Buffer.from(`{"users":${JSON.stringify(page.users.map(userListEntryJson))},"total":${page.total}${next}}`);
  encoded.set(page.users, { total: page.total, nextToken: page.nextToken, body });
  return body;
}
