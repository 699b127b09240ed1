/** The storage layer's transaction helpers and bus types, for tests that race transactions directly. */
export type { Notification } from '../../src/storage/changes.js';
export { announce, withTransaction } from '../../src/storage/database.js';
