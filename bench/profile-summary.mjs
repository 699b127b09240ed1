// Summarises a .cpuprofile (from `npm run bench -- --cpu-prof`): self time by function and by package/file.
// usage: node bench/profile-summary.mjs bench/results/profiles/<file>.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const prof = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas;
for (let i = 0; i < prof.samples.length; i++) self.set(prof.samples[i], (self.get(prof.samples[i]) ?? 0) + (dt[i] ?? 0));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const where = (cf) => {
  const path = cf.url.replace(/^file:\/\//, '');
  const url = path.includes('/node_modules/') ? path.replace(/^.*\/node_modules\//, 'node_modules/') : path.replace(/^.*\/dist\//, 'dist/');
  return url || '(native/vm)';
};
const area = (cf) => {
  const w = where(cf);
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(w);
  if (m) return m[1];
  if (w.startsWith('dist/')) return w;
  if (w.startsWith('node:')) return w;
  return cf.functionName.startsWith('(') ? cf.functionName : w;
};

const tally = (keyOf) => {
  const t = new Map();
  for (const [id, us] of self) {
    const k = keyOf(byId.get(id).callFrame);
    t.set(k, (t.get(k) ?? 0) + us);
  }
  return [...t.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
};
const pr = (title, rows) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms sampled)`);
  for (const [k, us] of rows) console.log(`${((us / total) * 100).toFixed(1).padStart(6)}%  ${k}`);
};
pr('Self time by package / file', tally(area));
pr('Self time by function', tally((cf) => `${cf.functionName || '(anonymous)'}  ${where(cf)}:${cf.lineNumber + 1}`));
