import { MatrixError, badRequest, missingParam, notFound } from '../errors.js';
import { parseUserId } from '../matrix/ids.js';
import { withTransaction, type Db } from '../storage/database.js';
import * as identities from '../storage/stores/identities.js';
import * as store from '../storage/stores/pushers.js';
import * as users from '../storage/stores/users.js';
import type { Requester } from './auth.js';

/** A pusher as Synapse's `PusherConfig.as_dict()` describes it. */
export interface Pusher {
  appDisplayName: string | null;
  appId: string;
  data: unknown;
  deviceDisplayName: string | null;
  kind: string;
  lang: string | null;
  profileTag: string | null;
  pushkey: string;
  enabled: boolean;
  deviceId: string | null;
}

const REQUIRED = ['kind', 'app_id', 'app_display_name', 'device_display_name', 'pushkey', 'lang', 'data'] as const;
const KINDS = new Set(['http', 'email']);
/** Spec limits: app_id at most 64 characters, pushkey at most 512 bytes. */
const MAX_APP_ID = 64;
const MAX_PUSHKEY_BYTES = 512;

const configError = (msg: string) => new MatrixError(400, 'M_MISSING_PARAM', `Config Error: ${msg}`);
const invalid = (msg: string) => new MatrixError(400, 'M_INVALID_PARAM', msg);

/** The path of a URL as Python's urlparse sees it (scheme and authority dropped, no query). */
function urlPath(url: string): string {
  let rest = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:/, '');
  if (rest.startsWith('//')) {
    const end = rest.slice(2).search(/[/?#]/);
    rest = end < 0 ? '' : rest.slice(2 + end);
  }
  const q = rest.search(/[?#]/);
  return q < 0 ? rest : rest.slice(0, q);
}

/** What Synapse's HTTP pusher demands of `data` (errors surface as "Config Error: …"). */
function checkHttpData(data: unknown): void {
  if (data === null) throw configError("'data' key can not be null for HTTP pusher");
  if (typeof data !== 'object' || Array.isArray(data) || !('url' in data)) throw configError("'url' required in data for HTTP pusher");
  const url = (data as Record<string, unknown>).url;
  if (typeof url !== 'string') throw configError("'url' must be a string");
  if (urlPath(url) !== '/_matrix/push/v1/notify') throw configError("'url' must have a path of '/_matrix/push/v1/notify'");
}

function toPusher(row: store.PusherRow): Pusher {
  return {
    appDisplayName: row.app_display_name,
    appId: row.app_id,
    data: row.data === null ? null : JSON.parse(row.data),
    deviceDisplayName: row.device_display_name,
    kind: row.kind,
    lang: row.lang,
    profileTag: row.profile_tag,
    pushkey: row.pushkey,
    enabled: Boolean(row.enabled),
    deviceId: row.device_id,
  };
}

/** Pushers (spec "Push Notifications"): where a user's notifications go. */
export class PushersService {
  constructor(
    private readonly db: Db,
    private readonly serverName: string,
    /** The published room event stream position: a pusher set now is owed what comes after it. */
    private readonly streamPosition: () => number,
  ) {}

  /** GET /_matrix/client/v3/pushers. */
  async list(requester: Requester): Promise<Pusher[]> {
    return (await store.listPushers(this.db, requester.userId)).map(toPusher);
  }

  /**
   * POST /_matrix/client/v3/pushers/set: `kind: null` deletes; otherwise creates or updates the
   * caller's pusher for (app_id, pushkey) and, unless `append`, removes the same pushkey of
   * other users.
   */
  async set(requester: Requester, body: Record<string, unknown>): Promise<void> {
    const userId = requester.userId;
    if ('pushkey' in body && 'app_id' in body && 'kind' in body && body.kind === null) {
      if (typeof body.app_id === 'string' && typeof body.pushkey === 'string') await store.deletePusher(this.db, userId, body.app_id, body.pushkey);
      return;
    }
    const absent = REQUIRED.filter((k) => !(k in body));
    if (absent.length > 0) throw missingParam(`Missing params: [${absent.map((k) => `'${k}'`).join(', ')}]`);
    for (const k of ['kind', 'app_id', 'pushkey'] as const) if (typeof body[k] !== 'string') throw invalid(`'${k}' must be a string`);
    for (const k of ['app_display_name', 'device_display_name', 'lang', 'profile_tag'] as const) {
      if (body[k] !== undefined && body[k] !== null && typeof body[k] !== 'string') throw invalid(`'${k}' must be a string`);
    }
    const kind = body.kind as string;
    const appId = body.app_id as string;
    const pushkey = body.pushkey as string;
    if (!KINDS.has(kind)) throw invalid(`'kind' must be one of 'http', 'email' or null`);
    if (appId.length > MAX_APP_ID) throw invalid(`'app_id' may not be longer than ${MAX_APP_ID} characters`);
    if (Buffer.byteLength(pushkey, 'utf8') > MAX_PUSHKEY_BYTES) throw invalid(`'pushkey' may not be longer than ${MAX_PUSHKEY_BYTES} bytes`);
    if (kind === 'http') checkHttpData(body.data);
    if (kind === 'email') {
      // An e-mail pusher may only send to one of the user's own addresses.
      const owner = await identities.findUserByThreepid(this.db, 'email', pushkey.trim().toLowerCase());
      if (owner !== userId) throw new MatrixError(400, 'M_THREEPID_NOT_FOUND', 'Email not found');
    }

    await withTransaction(this.db, async (tx) => {
      if (body.append !== true) await store.deletePushersOfOtherUsers(tx, appId, pushkey, userId);
      await store.upsertPusher(tx, {
        userId,
        kind,
        appId,
        pushkey,
        appDisplayName: (body.app_display_name as string | null) ?? null,
        deviceDisplayName: (body.device_display_name as string | null) ?? null,
        lang: (body.lang as string | null) ?? null,
        data: JSON.stringify(body.data),
        profileTag: typeof body.profile_tag === 'string' ? body.profile_tag : '',
        enabled: true,
        ts: Date.now(),
        deviceId: requester.deviceId,
        accessTokenId: requester.tokenId,
        lastStreamOrdering: this.streamPosition(),
      });
    });
  }

  /** GET /_synapse/admin/v1/users/<user_id>/pushers (catalogue §3.16). */
  async adminList(userId: string): Promise<Pusher[]> {
    if (parseUserId(userId).domain !== this.serverName) throw badRequest('Can only look up local users');
    if (!(await users.getUser(this.db, userId))) throw notFound('User not found');
    return (await store.listPushers(this.db, userId)).map(toPusher);
  }
}
