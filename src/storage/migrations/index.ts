import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { DialectName } from '../dialect.js';
import * as m001 from './001-accounts.js';
import * as m002 from './002-user-admin.js';
import * as m003 from './003-user-search.js';
import * as m004 from './004-change-capture.js';
import * as m005 from './005-uia-sessions-nonces.js';
import * as m006 from './006-rooms.js';
import * as m007 from './007-reports-audit.js';
import * as m008 from './008-room-admin.js';
import * as m009 from './009-scheduled-tasks.js';
import * as m010 from './010-e2e-keys.js';
import * as m011 from './011-push.js';
import * as m012 from './012-media.js';
import * as m013 from './013-receipts.js';
import * as m014 from './014-presence-tags.js';
import * as m015 from './015-media-admin.js';
import * as m016 from './016-user-directory.js';
import * as m017 from './017-media-change-capture.js';

type Step = { up(db: Kysely<unknown>, dialect: DialectName): Promise<void> };

/** Numbered migrations, applied in order at start-up. Never edit one that has landed. */
const STEPS: Record<string, Step> = {
  '001-accounts': m001,
  '002-user-admin': m002,
  '003-user-search': m003,
  '004-change-capture': m004,
  '005-uia-sessions-nonces': m005,
  '006-rooms': m006,
  '007-reports-audit': m007,
  '008-room-admin': m008,
  '009-scheduled-tasks': m009,
  '010-e2e-keys': m010,
  '011-push': m011,
  '012-media': m012,
  '013-receipts': m013,
  '014-presence-tags': m014,
  '015-media-admin': m015,
  '016-user-directory': m016,
  '017-media-change-capture': m017,
};

/** Applies pending migrations; the applied versions are recorded in `schema_migrations`. */
export async function migrate(db: Kysely<any>, dialect: DialectName): Promise<void> {
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, step] of Object.entries(STEPS)) out[name] = { up: (d) => step.up(d, dialect) };
      return out;
    },
  };
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'schema_migrations',
    migrationLockTableName: 'schema_migrations_lock',
    // Numbers are reserved per area and may land out of order (015 after 016): a database that has
    // the later one already applies the earlier one when it arrives.
    allowUnorderedMigrations: true,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`database migration ${failed ?? ''} failed: ${(error as Error).message ?? error}`);
  }
}
