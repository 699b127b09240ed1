// The house rules of docs/architecture.md, enforced: which folder may import which, and where the
// code may branch on the database engine. Only these rules run (no style rules): `npm run lint`,
// part of `npm test`, fails on any violation. test/unit/lint-rules.test.ts proves each rule bites.
import tsParser from '@typescript-eslint/parser';

const storage = { group: ['**/storage', '**/storage/**'], message: 'api/ reaches storage only through a service (ctx.services).' };
const sqlLibs = {
  group: ['kysely', 'kysely/*', 'pg', 'pg/*', 'better-sqlite3'],
  message: 'SQL lives in src/storage; call a service or a store instead.',
};
const fastify = {
  group: ['fastify', 'fastify/*', '@fastify/*', 'find-my-way', 'light-my-request'],
  message: 'services/ know nothing of HTTP: take plain arguments, throw MatrixError.',
};
const layer = (names, message) => ({ group: names.flatMap((n) => [`**/${n}`, `**/${n}/**`]), message });

// Comparing against an engine name is branching on the engine: that belongs in
// src/storage/dialect.ts (and database.ts, which opens the engine, and each migration, which is
// handed the dialect). Config reads the operator's choice of engine, so it may name them.
const engineName = '/^(sqlite|sqlite3|postgres|postgresql|psycopg2)$/';
const engineBranch = [
  {
    selector: `BinaryExpression[operator=/^[!=]=/] > Literal[value=${engineName}]`,
    message: 'Engine branching belongs in src/storage/dialect.ts: add a dialect helper there.',
  },
  {
    selector: `SwitchCase > Literal.test[value=${engineName}]`,
    message: 'Engine branching belongs in src/storage/dialect.ts: add a dialect helper there.',
  },
  {
    selector: 'BinaryExpression[operator="instanceof"] > Identifier.right[name=/^(Sqlite|Postgres)/]',
    message: 'Engine detection belongs in src/storage/dialect.ts (dialectOf).',
  },
];

export default [
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tsParser, ecmaVersion: 2022, sourceType: 'module' },
    // Only the house rules run, so a directive for another rule (e.g. require-yield) is not an error.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/storage/dialect.ts', 'src/storage/database.ts', 'src/storage/migrations/**', 'src/config/**'],
    rules: { 'no-restricted-syntax': ['error', ...engineBranch] },
  },
  {
    files: ['src/api/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [storage, sqlLibs] }],
      // Services are built once in src/context.ts; a route that reaches for the database builds its own.
      'no-restricted-syntax': [
        'error',
        ...engineBranch,
        { selector: "MemberExpression[property.name='storage']", message: 'Routes use ctx.services; services are built in src/context.ts.' },
        { selector: "ObjectPattern > Property[key.name='storage']", message: 'Routes use ctx.services; services are built in src/context.ts.' },
      ],
    },
  },
  {
    files: ['src/services/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [fastify, sqlLibs, layer(['http', 'api'], 'services/ never import http/ or api/: they are called by them.')] },
      ],
    },
  },
  {
    files: ['src/storage/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [fastify, layer(['services', 'http', 'api'], 'storage/ returns plain rows; it never calls upward.')] },
      ],
    },
  },
  {
    files: ['src/http/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [sqlLibs] }] },
  },
  {
    files: ['src/matrix/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            fastify,
            sqlLibs,
            layer(['services', 'storage', 'http', 'api'], 'matrix/ is pure protocol code: no services, storage, HTTP or routes.'),
          ],
        },
      ],
    },
  },
  {
    // Black-box tests: the server is reached over HTTP, through the harness only. A warning for now:
    // a few suites still import src/ directly (npm run lint lists them) and need harness support
    // first; make it 'error' once they go through test/harness/.
    files: ['test/http/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'warn',
        { patterns: [{ regex: '^\\.\\.?/(?!harness/)', message: 'test/http/ imports only test/harness/ (and packages).' }] },
      ],
    },
  },
];
