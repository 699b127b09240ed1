// The import and engine rules of eslint.config.js must report a deliberately bad line, and must not
// report the ordinary good ones (a rule that flags everything would be switched off by the next person).
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const eslint = new ESLint({ cwd: root });

async function errors(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.map((m) => `${m.ruleId ?? 'fatal'}: ${m.message}`);
}

describe('eslint house rules', () => {
  it.each([
    ['src/api/admin/bad.ts', "import { withTransaction } from '../../storage/database.js';", 'no-restricted-imports'],
    ['src/api/client/bad.ts', "import type { Db } from '../../storage/database.js';", 'no-restricted-imports'],
    ['src/api/client/bad.ts', "export { getUser } from '../../storage/stores/users.js';", 'no-restricted-imports'],
    ['src/api/client/bad.ts', "import { sql } from 'kysely';", 'no-restricted-imports'],
    ['src/services/bad.ts', "import type { FastifyRequest } from 'fastify';", 'no-restricted-imports'],
    ['src/services/bad.ts', "import { sendError } from '../http/errors.js';", 'no-restricted-imports'],
    ['src/services/bad.ts', "import { routes } from '../api/index.js';", 'no-restricted-imports'],
    ['src/storage/stores/bad.ts', "import { AccountsService } from '../../services/accounts.js';", 'no-restricted-imports'],
    ['src/matrix/bad.ts', "import { AuthService } from '../services/auth.js';", 'no-restricted-imports'],
    ['src/matrix/bad.ts', "import * as users from '../storage/stores/users.js';", 'no-restricted-imports'],
    ['src/matrix/bad.ts', "import { route } from '../http/route.js';", 'no-restricted-imports'],
    ['test/http/bad.test.ts', "import { createContext } from '../../src/context.js';", 'no-restricted-imports'],
    ['src/api/admin/bad.ts', "declare const ctx: { storage: { db: unknown } };\nexport const db = ctx.storage.db;", 'no-restricted-syntax'],
    ['src/api/admin/bad.ts', "declare const ctx: { storage: { db: unknown } };\nexport const { storage } = ctx;", 'no-restricted-syntax'],
    ['src/services/bad.ts', "declare const s: { dialect: string };\nif (s.dialect === 'postgres') {}", 'no-restricted-syntax'],
    ['src/services/bad.ts', "declare const d: string;\nconst x = 'sqlite' !== d;", 'no-restricted-syntax'],
    ['src/api/bad.ts', "declare const d: string;\nswitch (d) { case 'sqlite': break; }", 'no-restricted-syntax'],
    ['src/storage/stores/bad.ts', "import { PostgresAdapter } from 'kysely';\ndeclare const a: unknown;\nconst pg = a instanceof PostgresAdapter;", 'no-restricted-syntax'],
  ])('%s: %s is reported', async (file, code, rule) => {
    const found = await errors(file, code);
    expect(found.some((m) => m.startsWith(`${rule}:`)), found.join('\n')).toBe(true);
  });

  it.each([
    ['src/api/admin/good.ts', "import type { Context } from '../../context.js';\nimport type { AccountsService } from '../../services/accounts.js';\ndeclare const ctx: Context;\nexport const a: AccountsService = ctx.services.accounts;"],
    ['src/services/good.ts', "import { withTransaction } from '../storage/database.js';\nimport { MatrixError } from '../errors.js';"],
    ['src/storage/dialect.ts', "declare const d: string;\nexport const pg = d === 'postgres';"],
    ['src/storage/database.ts', "declare const d: string;\nexport const pg = d === 'postgres';"],
    ['src/storage/migrations/099-x.ts', "declare const d: string;\nexport const pg = d === 'postgres';"],
    ['src/config/load.ts', "declare const n: string;\nexport const lite = n === 'sqlite3';"],
    ['src/services/good.ts', "declare const kind: string;\nexport const admin = kind === 'server_admin';"],
    ['test/http/good.test.ts', "import { startServer } from '../harness/server.js';\nimport { describe } from 'vitest';"],
  ])('%s: allowed code passes', async (file, code) => {
    expect(await errors(file, code)).toEqual([]);
  });
});
