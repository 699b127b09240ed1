/**
 * Whether a user may see an event, by the room's history visibility: the algorithm of the
 * client-server API, "Room History Visibility" → "Server behaviour", with its two special cases
 * and the one Synapse adds (its visibility filter, observed behaviour).
 *
 * The spec's rules, judged on the state of the room at the event (here: the state *after* the
 * event, as Synapse does, so for an `m.room.history_visibility` event `visibility` is its new
 * value and for the user's own `m.room.member` event `membershipAtEvent` is the new membership):
 *   1. `world_readable` → allow;
 *   2. the user's membership was `join` → allow;
 *   3. `shared`, and the user joined the room at some point after the event → allow;
 *   4. the user's membership was `invite` and the visibility `invited` → allow;
 *   5. otherwise deny.
 * A missing or unrecognised visibility counts as `shared` (the spec says so).
 *
 * Special cases:
 * - an `m.room.history_visibility` event is visible if the visibility before *or* after it
 *   allows it (spec). Synapse instead picks the more permissive of the two values but still
 *   applies the membership rules with the new one, which hides a change from `invited` to
 *   `joined` from a user invited at the time; Axon follows the spec's wording;
 * - the user's own `m.room.member` event is visible if their membership before *or* after it
 *   allows it (spec), so a user always sees their own join and their own leave from a join;
 * - Synapse also always shows a user their own leave from an invite (an invite they rejected or
 *   that was withdrawn), or the room would not disappear from their client. Kept.
 */

export type HistoryVisibility = 'world_readable' | 'shared' | 'invited' | 'joined';

export const HISTORY_VISIBILITIES: readonly HistoryVisibility[] = Object.freeze(['world_readable', 'shared', 'invited', 'joined']);

const isKnown = (v: unknown): v is HistoryVisibility => typeof v === 'string' && (HISTORY_VISIBILITIES as readonly string[]).includes(v);

/**
 * The effective visibility of an `m.room.history_visibility` content (or of no event: pass
 * `undefined`/`null`): its `history_visibility` when it is one of the four values, else `shared`.
 */
export function visibilityOf(content: unknown): HistoryVisibility {
  if (typeof content !== 'object' || content === null || Array.isArray(content)) return 'shared';
  const v = (content as Record<string, unknown>).history_visibility;
  return isKnown(v) ? v : 'shared';
}

export interface VisibilityInput {
  /**
   * The history visibility in force at the event (after it): a value from visibilityOf, or the
   * raw string; unknown values count as `shared`.
   */
  readonly visibility: string;
  /** The user's membership at the event (after it), or null when they have none. */
  readonly membershipAtEvent: string | null;
  /** Whether the user's membership is `join` at some point after the event. */
  readonly joinedAfterEvent: boolean;
  /**
   * The event, for the special cases: its type, state_key and content. Without it the event is
   * judged by the plain rules.
   */
  readonly event?: { readonly type: string; readonly state_key?: string; readonly content?: unknown };
  /** The user asking; needed to recognise their own membership events. */
  readonly userId?: string;
  /**
   * For an `m.room.history_visibility` event: the visibility before it (raw string or null when
   * there was none, which counts as `shared`).
   */
  readonly previousVisibility?: string | null;
  /**
   * For the user's own `m.room.member` event: their membership before it (null when none,
   * i.e. `leave`).
   */
  readonly previousMembership?: string | null;
}

/** The spec's five rules for one visibility value and one membership. */
function allowedBy(visibility: string, membership: string | null, joinedAfterEvent: boolean): boolean {
  const vis: HistoryVisibility = isKnown(visibility) ? visibility : 'shared';
  if (vis === 'world_readable') return true;
  if (membership === 'join') return true;
  if (vis === 'shared' && joinedAfterEvent) return true;
  if (vis === 'invited' && membership === 'invite') return true;
  return false;
}

/** Whether the user may see the event (history visibility only: ignoring, erasure etc. are the caller's). */
export function mayUserSeeEvent(input: VisibilityInput): boolean {
  const { event, joinedAfterEvent } = input;
  const visibilities = [input.visibility];
  let memberships: Array<string | null> = [input.membershipAtEvent];

  if (event?.type === 'm.room.history_visibility' && event.state_key === '') {
    visibilities.push(input.previousVisibility ?? 'shared');
  }
  if (event?.type === 'm.room.member' && input.userId !== undefined && event.state_key === input.userId) {
    const content = event.content;
    const own = typeof content === 'object' && content !== null ? (content as Record<string, unknown>).membership : undefined;
    const after = typeof own === 'string' ? own : input.membershipAtEvent;
    const before = input.previousMembership ?? null;
    if (after === 'leave' && (before === 'join' || before === 'invite')) return true;
    memberships = [after, before];
  }

  return visibilities.some((vis) => memberships.some((m) => allowedBy(vis, m, joinedAfterEvent)));
}
