// Collects figures and checks, prints them as they come, and renders the final markdown tables.

const fmtInt = (n) => Math.round(n).toLocaleString('en-US');
const fmtMs = (n) => (n === undefined || n === null ? '' : n < 10 ? n.toFixed(1) : fmtInt(n));
const pct = (r) => `${(r * 100).toFixed(1)}%`;

export class Report {
  constructor() {
    this.load = []; // { engine, label, rps, p50, p99, ratio, target, pass }
    this.memory = []; // { engine, label, idle, after, target, pass }
    this.setup = []; // { engine, label, seconds }
    this.bcrypt = []; // { label, value, target, pass }
    this.writes = []; // { engine, label, value, target, pass }
    this.failures = []; // { where, message }
    this.notes = [];
  }

  /**
   * Records a load figure with the bare server's req/s measured just before it. The ratio that
   * counts (and the PASS/FAIL) is taken against the median of all bare runs in this run, because
   * single 10-second runs on a shared machine swing by ±50 %; the adjacent figure is kept beside it.
   */
  measured(engine, label, m, bare, minRatio) {
    this.load.push({ engine, label, ...m, bareRps: bare.rps, minRatio });
    console.log(
      `  ${label.padEnd(60)} ${fmtInt(m.rps).padStart(8)} req/s  p50 ${fmtMs(m.p50)} ms  p99 ${fmtMs(m.p99)} ms  ${m.cold === undefined ? '' : `first ${fmtMs(m.cold)} ms  `}` +
        `(bare just before: ${fmtInt(bare.rps)} req/s → ${pct(m.rps / bare.rps)})`,
    );
  }

  /** Median of the bare runs; ratios and load-target verdicts against it. */
  finalize() {
    if (this.finalized || this.load.length === 0) return;
    this.finalized = true;
    const sorted = this.load.map((r) => r.bareRps).sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    this.bareMedian = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    this.bareRuns = sorted.length;
    for (const r of this.load) {
      r.ratio = r.rps / this.bareMedian;
      r.target = r.minRatio === undefined ? '' : `≥ ${r.minRatio * 100}%`;
      r.pass = r.minRatio === undefined ? undefined : r.ratio >= r.minRatio;
      if (r.pass === false) this.failures.push({ where: `${r.engine} ${r.label}`, message: `${pct(r.ratio)} of bare, target ${r.target}` });
    }
  }

  memoryOf(engine, label, idle, after, maxIdle) {
    const pass = maxIdle === undefined ? undefined : idle < maxIdle;
    const target = maxIdle === undefined ? '' : `idle < ${maxIdle} MB`;
    this.memory.push({ engine, label, idle, after, target, pass });
    if (pass === false) this.failures.push({ where: `${engine} ${label} RSS`, message: `idle ${idle.toFixed(1)} MB, target ${target}` });
    const verdict = pass === undefined ? '' : `  (target ${target}: ${pass ? 'PASS' : 'FAIL'})`;
    console.log(`  RSS ${label}: idle ${idle.toFixed(1)} MB, after load ${after === undefined ? '—' : `${after.toFixed(1)} MB`}${verdict}`);
  }

  setupTime(engine, label, seconds) {
    this.setup.push({ engine, label, seconds });
    console.log(`  ${label}: ${seconds.toFixed(1)} s`);
  }

  bcryptFigure(label, value, unit, target, pass) {
    this.bcrypt.push({ label, value, unit, target, pass });
    if (pass === false) this.failures.push({ where: label, message: `${value.toFixed(2)}${unit}, target ${target}` });
    console.log(`  ${label}: ${value.toFixed(2)}${unit}${target ? `  (target ${target}: ${pass ? 'PASS' : 'FAIL'})` : ''}`);
  }

  writeFigure(engine, label, value, target, pass) {
    this.writes.push({ engine, label, value, target, pass });
    if (pass === false) this.failures.push({ where: `${engine} ${label}`, message: `${value}, target ${target}` });
    console.log(`  ${label}: ${value}  (target ${target}: ${pass ? 'PASS' : 'FAIL'})`);
  }

  fail(where, error) {
    const message = (error instanceof Error ? error.message : String(error)).split('\n')[0];
    this.failures.push({ where, message });
    console.log(`  FAIL ${where}: ${error instanceof Error ? error.message : error}`);
  }

  note(text) {
    this.notes.push(text);
  }

  markdown(header) {
    this.finalize();
    const out = [header, ''];
    const verdict = (p) => (p === undefined ? '' : p ? 'PASS' : '**FAIL**');
    if (this.load.length > 0) {
      out.push(
        `Bare node:http: median ${fmtInt(this.bareMedian)} req/s over ${this.bareRuns} runs (one just before each row; range ${fmtInt(Math.min(...this.load.map((r) => r.bareRps)))}–${fmtInt(Math.max(...this.load.map((r) => r.bareRps)))}). "vs bare" divides by the median.`,
        '',
        '| engine | request | req/s | p50 ms | p99 ms | first request ms | bare just before | vs bare | target | |',
        '|---|---|--:|--:|--:|--:|--:|--:|---|---|',
      );
      for (const r of this.load) {
        out.push(
          `| ${r.engine} | ${r.label} | ${fmtInt(r.rps)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${r.cold === undefined ? '' : fmtMs(r.cold)} | ` +
            `${fmtInt(r.bareRps)} | ${pct(r.ratio)} | ${r.target} | ${verdict(r.pass)} |`,
        );
      }
      out.push('');
    }
    if (this.memory.length > 0) {
      out.push('| engine | server RSS (VmRSS) | idle MB | after load MB | target | |', '|---|---|--:|--:|---|---|');
      for (const r of this.memory) {
        out.push(`| ${r.engine} | ${r.label} | ${r.idle.toFixed(1)} | ${r.after === undefined ? '' : r.after.toFixed(1)} | ${r.target} | ${verdict(r.pass)} |`);
      }
      out.push('');
    }
    if (this.setup.length > 0) {
      out.push('| engine | set-up | seconds |', '|---|---|--:|');
      for (const r of this.setup) out.push(`| ${r.engine} | ${r.label} | ${r.seconds.toFixed(1)} |`);
      out.push('');
    }
    if (this.bcrypt.length > 0) {
      out.push('| bcrypt (PUT /_synapse/admin/v2/users/@newN with a password, bcrypt_rounds 12) | value | target | |', '|---|--:|---|---|');
      for (const r of this.bcrypt) out.push(`| ${r.label} | ${r.value.toFixed(2)}${r.unit} | ${r.target ?? ''} | ${verdict(r.pass)} |`);
      out.push('');
    }
    if (this.writes.length > 0) {
      out.push('| engine | writes | measured | target | |', '|---|---|---|---|---|');
      for (const r of this.writes) out.push(`| ${r.engine} | ${r.label} | ${r.value} | ${r.target} | ${verdict(r.pass)} |`);
      out.push('');
    }
    for (const n of this.notes) out.push(`- ${n}`);
    if (this.failures.length > 0) {
      out.push('', `**${this.failures.length} failure(s):**`);
      for (const f of this.failures) out.push(`- ${f.where}: ${f.message}`);
    } else {
      out.push('', 'All checks passed.');
    }
    return out.join('\n') + '\n';
  }
}
