import { sql, type Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

/**
 * Background tasks in Synapse's `scheduled_tasks` table (room deletion v2, history purges, user
 * redactions): they survive restarts, and `GET /_synapse/admin/v1/scheduled_tasks` lists them.
 * `params` and `result` hold JSON text, as in Synapse.
 *
 * Plus the indexes the room purge needs to delete by room in short steps instead of scanning:
 * room account data by room, and transaction IDs by event (Synapse has the same index).
 */
export async function up(db: Kysely<unknown>, _dialect: DialectName): Promise<void> {
  const run = (statement: string) => sql.raw(statement).execute(db);
  await run(`CREATE TABLE scheduled_tasks (
    id TEXT NOT NULL PRIMARY KEY,
    action TEXT NOT NULL,
    status TEXT NOT NULL,
    timestamp BIGINT NOT NULL,
    resource_id TEXT,
    params TEXT,
    result TEXT,
    error TEXT
  )`);
  await run('CREATE INDEX scheduled_tasks_status ON scheduled_tasks (status)');
  await run('CREATE INDEX scheduled_tasks_action_resource ON scheduled_tasks (action, resource_id)');
  await run('CREATE INDEX room_account_data_room ON room_account_data (room_id)');
  await run('CREATE INDEX event_txn_id_device_id_event_id ON event_txn_id_device_id (event_id)');
}
