#!/usr/bin/env node
// Runs the whole test suite on SQLite, then on PostgreSQL when one is reachable.
// AXON_REQUIRE_POSTGRES=1 (set by .ci/run) makes an unreachable PostgreSQL a failure, not a skip.
import { spawnSync } from 'node:child_process';
import pg from 'pg';

const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const extra = process.argv.slice(2);

function run(engine) {
  console.log(`\n=== test suite on ${engine} ===\n`);
  const r = spawnSync('npx', ['vitest', 'run', ...extra], { stdio: 'inherit', env: { ...process.env, AXON_TEST_DB: engine } });
  return r.status ?? 1;
}

async function postgresReachable() {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch (e) {
    console.log(`PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} is not reachable: ${e.message}`);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

const engines = (process.env.AXON_TEST_ENGINES ?? 'sqlite,postgres').split(',');
let failed = false;
if (engines.includes('sqlite')) failed = run('sqlite') !== 0 || failed;
if (engines.includes('postgres')) {
  if (await postgresReachable()) failed = run('postgres') !== 0 || failed;
  else if (process.env.AXON_REQUIRE_POSTGRES === '1') {
    console.error('AXON_REQUIRE_POSTGRES=1: PostgreSQL is required but unreachable');
    failed = true;
  } else console.log('Skipping the PostgreSQL run (set DATABASE_URL, or start PostgreSQL on 127.0.0.1:5432).');
}
process.exit(failed ? 1 : 0);
