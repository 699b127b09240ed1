import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

/**
 * Response validation against the Matrix specification's OpenAPI (read in place from the shared
 * matrix-spec checkout, never copied into the repo). `specErrors(api, path, method, status, body)`
 * returns the schema violations of a response body ([] when it conforms).
 */

// The workplace's copy of the Matrix spec data sits beside the checkout (../shared/matrix-spec).
const BESIDE_CHECKOUT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/matrix-spec');
export const SPEC_DIR =
  process.env.AXON_MATRIX_SPEC ?? (existsSync(BESIDE_CHECKOUT) ? BESIDE_CHECKOUT : '/work/shared/matrix-spec');

export type SpecApi = 'client-server' | 'server-server';

const yamlCache = new Map<string, unknown>();
function loadYaml(file: string): unknown {
  let doc = yamlCache.get(file);
  if (doc === undefined) {
    doc = parse(readFileSync(file, 'utf8'));
    yamlCache.set(file, doc);
  }
  return doc;
}

function pointer(doc: unknown, fragment: string): unknown {
  if (!fragment || fragment === '/') return doc;
  return fragment
    .replace(/^\//, '')
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => {
      if (node === null || typeof node !== 'object' || !(key in node)) throw new Error(`spec: no ${fragment}`);
      return (node as Record<string, unknown>)[key];
    }, doc);
}

/** Inlines every relative `$ref` (files and `#/` fragments) so Ajv gets one self-contained schema. */
function deref(node: unknown, file: string, depth = 0): unknown {
  if (depth > 40) return {}; // recursive schemas: stop validating below this depth
  if (Array.isArray(node)) return node.map((n) => deref(n, file, depth));
  if (node === null || typeof node !== 'object') return node;
  const obj = node as Record<string, unknown>;
  if (typeof obj.$ref === 'string') {
    const [target, fragment = ''] = obj.$ref.split('#');
    const targetFile = target ? resolve(dirname(file), target) : file;
    const resolved = deref(pointer(loadYaml(targetFile), fragment), targetFile, depth + 1);
    const rest = Object.fromEntries(Object.entries(obj).filter(([k]) => k !== '$ref'));
    return Object.keys(rest).length === 0 ? resolved : { allOf: [resolved], ...(deref(rest, file, depth + 1) as object) };
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, deref(v, file, depth)]));
}

/** The spec file that declares `path` (as written in the spec, e.g. `/profile/{userId}`). */
function fileDeclaring(api: SpecApi, path: string): string {
  const dir = join(SPEC_DIR, 'data/api', api);
  for (const name of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const doc = loadYaml(join(dir, name)) as { paths?: Record<string, unknown> };
    if (doc?.paths && path in doc.paths) return join(dir, name);
  }
  throw new Error(`spec: no ${api} file declares ${path}`);
}

/** The JSON schema of one documented response. */
export function responseSchema(api: SpecApi, path: string, method: string, status: number): unknown {
  const file = fileDeclaring(api, path);
  const doc = loadYaml(file) as { paths: Record<string, Record<string, any>> };
  const op = doc.paths[path]?.[method.toLowerCase()];
  if (!op) throw new Error(`spec: ${method} ${path} not documented`);
  let response = op.responses?.[String(status)];
  if (!response) throw new Error(`spec: ${method} ${path} documents no ${status} response`);
  if (response.$ref) response = deref(response, file);
  const schema = response.content?.['application/json']?.schema;
  if (!schema) throw new Error(`spec: ${method} ${path} ${status} has no JSON schema`);
  return deref(schema, file);
}

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const compiled = new Map<string, ReturnType<typeof ajv.compile>>();

/** Schema violations of `body` as "<json pointer> <message>" lines; [] when it conforms. */
export function specErrors(api: SpecApi, path: string, method: string, status: number, body: unknown): string[] {
  const key = `${api} ${method} ${path} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(responseSchema(api, path, method, status) as object);
    compiled.set(key, validate);
  }
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`);
}
