// `npm run build`, second step: bundles the compiled server (dist/src/main.js) into one file,
// dist/axon.mjs, which bin/axon runs when it is there and up to date. One script instead of ~900
// ES and CommonJS modules saves ≈20 MB of the idle server's memory (each module kept its own
// records, wrappers and source); dist/src/ stays for the tests and register_new_matrix_user.
import { build } from 'esbuild';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

// Loaded from node_modules at run time: native addons (sharp only on the first thumbnail), and pg (only used on PostgreSQL; its
// optional pg-native is native too). They are CommonJS: load them with require(), because an ES
// import of CommonJS starts node's export scanner (cjs-module-lexer), ≈1 MB that then stays.
const VIA_REQUIRE = ['better-sqlite3', 'bcrypt', 'pg', 'sharp'];
const viaRequire = {
  name: 'axon-via-require',
  setup(b) {
    const filter = new RegExp(`^(${VIA_REQUIRE.join('|')})$`);
    b.onResolve({ filter }, (a) => (a.namespace === 'axon-via-require' ? { path: a.path, external: true } : { path: a.path, namespace: 'axon-via-require' }));
    b.onLoad({ filter: /.*/, namespace: 'axon-via-require' }, (a) => ({ contents: `module.exports = require(${JSON.stringify(a.path)});`, loader: 'js' }));
  },
};

await build({
  entryPoints: [join(root, 'dist/src/main.js')],
  outfile: join(root, 'dist/axon.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  plugins: [viaRequire],
  external: ['pg-native'],
  // CommonJS dependencies inside an ES module bundle still call require().
  banner: { js: "import { createRequire as __axonRequire } from 'node:module'; const require = __axonRequire(import.meta.url);" },
  // V8 keeps the whole source in memory: without comments and indentation it is ~35 % smaller,
  // and pure ASCII (a single non-Latin-1 character in a comment doubles its size). Names are
  // kept for readable stack traces; the source map gives positions (node --enable-source-maps).
  minifyWhitespace: true,
  legalComments: 'linked',
  charset: 'ascii',
  sourcemap: 'linked',
  logLevel: 'warning',
});
