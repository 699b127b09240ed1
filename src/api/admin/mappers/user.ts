import type { UserDetails } from '../../../services/admin-users.js';

/**
 * The single-user object of GET/PUT /_synapse/admin/v2/users/<user_id>, in Synapse 1.94's field
 * order and types: booleans (not 0/1) and `creation_ts` in **seconds** (the list endpoint uses ms).
 */
export function userDetailsJson(d: UserDetails) {
  const u = d.user;
  return {
    name: u.name,
    admin: Boolean(u.admin),
    deactivated: Boolean(u.deactivated),
    locked: Boolean(u.locked),
    shadow_banned: Boolean(u.shadow_banned),
    suspended: Boolean(u.suspended),
    creation_ts: u.creation_ts,
    appservice_id: u.appservice_id,
    consent_server_notice_sent: u.consent_server_notice_sent,
    consent_version: u.consent_version,
    consent_ts: u.consent_ts,
    user_type: u.user_type,
    is_guest: Boolean(u.is_guest),
    displayname: d.profile?.displayname ?? null,
    avatar_url: d.profile?.avatar_url ?? null,
    threepids: d.threepids.map((t) => ({ medium: t.medium, address: t.address, added_at: t.added_at, validated_at: t.validated_at })),
    external_ids: d.externalIds.map((e) => ({ auth_provider: e.auth_provider, external_id: e.external_id })),
    erased: d.erased,
    last_seen_ts: d.lastSeenTs,
  };
}
