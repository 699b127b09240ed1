import type { RouteDef } from '../../http/route.js';

// GET /_matrix/client/versions (spec "Server discovery: versions").
//
// Spec versions: Synapse 1.94's list, r0.0.1 to v1.6. v1.7 is not claimed: it brings
// asynchronous media uploads (POST /_matrix/media/v1/create) and media redirects, which Axon does
// not serve.
const VERSIONS = ['r0.0.1', 'r0.1.0', 'r0.2.0', 'r0.3.0', 'r0.4.0', 'r0.5.0', 'r0.6.0', 'r0.6.1', 'v1.1', 'v1.2', 'v1.3', 'v1.4', 'v1.5', 'v1.6'];

/**
 * Unstable features, only those Axon really serves (clients switch behaviour on them). Each:
 * - `org.matrix.e2e_cross_signing`: /keys/device_signing/upload and /keys/signatures/upload.
 * - `org.matrix.msc2432`: m.room.canonical_alias `alias`/`alt_aliases` are checked to exist and
 *   point at the room (services/rooms/directory.ts).
 * - `org.matrix.msc3827.stable`: /publicRooms filters by `room_types`.
 * - `org.matrix.msc3981`: /relations takes `recurse` (and `org.matrix.msc3981.recurse`).
 * - `io.element.e2ee_forced.{public,private,trusted_private}`: false, truthfully: Axon has no
 *   `encryption_enabled_by_default_for_room_type`, so no room type is encrypted by force.
 * Left out although Synapse 1.94 lists them as true: label-based filtering, mutual rooms
 * (MSC2666), appservice ping (MSC2659), MSC3440's thread filters (`related_by_*`), and, until
 * receipts are served, private and threaded read receipts (MSC2285, MSC3771).
 */
const UNSTABLE_FEATURES: Record<string, boolean> = {
  'org.matrix.e2e_cross_signing': true,
  'org.matrix.msc2432': true,
  // Private read receipts (MSC2285) and threaded receipts with per-thread counts (MSC3771), as Synapse 1.94.
  'org.matrix.msc2285.stable': true,
  'org.matrix.msc3771': true,
  'org.matrix.msc3827.stable': true,
  'org.matrix.msc3981': true,
  'io.element.e2ee_forced.public': false,
  'io.element.e2ee_forced.private': false,
  'io.element.e2ee_forced.trusted_private': false,
};

export const versionsRoutes = (): RouteDef[] => [
  {
    method: 'GET',
    path: '/_matrix/client/versions',
    auth: 'none',
    handler: async () => ({ versions: VERSIONS, unstable_features: UNSTABLE_FEATURES }),
  },
];
