#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own process,
// two at a time (files named *.serial.test.js alone, after the others), reads
// their TAP, and ends with one line:
//   tests: N passed, N failed, N skipped
// A test counts as failed if any of its assertions failed, or if its file
// crashed or timed out before finishing. A test is skipped when tape says so:
// its only assertions are `t.skip(reason)` (TAP `ok N reason # SKIP`), or it was
// declared with `test(name, { skip })` (TAP `# SKIP name`); each reason is listed
// once before the summary. A test with no assertion at all is not counted.
// Exit code is non-zero on any failure.
//   TEST_FILE_TIMEOUT_MS  per-file limit (default 5 minutes; the slowest files take about 2)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('../dist/test/', import.meta.url).pathname;
const filter = process.argv.slice(2);
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS || 300_000);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

// A compiled test whose source is gone (moved or deleted; tsc leaves its old output in dist/) is stale: not run.
const sourceOf = (f) => new URL(`../test/${relative(root, f).replace(/\.js$/, '.ts')}`, import.meta.url).pathname;
const files = walk(root).sort().filter((f) => existsSync(sourceOf(f)))
  .filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
// Files whose name ends in .serial.test.js run alone (fixed ports, heavy load).
const serial = files.filter((f) => f.endsWith('.serial.test.js'));
const parallel = files.filter((f) => !f.endsWith('.serial.test.js'));
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
/** reason -> names of the tests skipped for it */
const skips = new Map();

const running = new Set();
/** Processes still running in a file's group (zombies waiting to be reaped do not count), or ''. */
function leftovers(pgid) {
  const ps = execFileSync('ps', ['-e', '-o', 'pgid=,stat=,pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => {
    const [group, stat] = l.trim().split(/\s+/);
    return Number(group) === pgid && !stat.startsWith('Z');
  }).join('\n');
}
function killGroup(child) {
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
}
// Detached files do not get the terminal's Ctrl-C: stop them when the runner is stopped.
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const child of running) killGroup(child);
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

function runFile(file) {
  return new Promise((resolve) => {
    const name = relative(root, file);
    // Its own process group, so a timed-out file goes with everything it started (npm, chromium).
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env }, detached: true });
    running.add(child);
    const began = Date.now();
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { err += `\n(timed out after ${FILE_TIMEOUT_MS} ms)`; killGroup(child); }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      // Anything the file started and left running would hold ports and CPU for the files after it.
      const leftover = leftovers(child.pid);
      if (leftover) { err += `\nleft running:\n${leftover}`; killGroup(child); }
      const tests = [];
      let current = null;
      for (const line of out.split('\n')) {
        let m;
        if ((m = /^# SKIP (.*)$/.exec(line))) {
          tests.push({ name: m[1], ok: true, asserts: 0, skips: [m[1]] });
          current = null;
        } else if ((m = /^# (.*)$/.exec(line)) && !/^# (tests|pass|fail|skip|todo|ok)\b/.test(line)) {
          current = { name: m[1], ok: true, asserts: 0, skips: [] };
          tests.push(current);
        } else if (/^not ok \d+/.test(line)) {
          if (!current) { current = { name: '(outside a test)', ok: true, asserts: 0, skips: [] }; tests.push(current); }
          current.ok = false;
          current.asserts++;
        } else if ((m = /^ok \d+ (.*?)\s*# SKIP\b\s*(.*)$/i.exec(line)) && current) {
          current.skips.push(m[2] || m[1] || '(no reason given)');
        } else if (/^ok \d+/.test(line) && current) {
          current.asserts++;
        }
      }
      const finished = /^# (ok|fail|pass)/m.test(out);
      if (code !== 0 && tests.every((t) => t.ok)) {
        tests.push({ name: `${name} exited with ${signal ?? code} before finishing`, ok: false, asserts: 0, skips: [] });
      } else if (!finished && code === 0) {
        tests.push({ name: `${name} ended without tape's summary`, ok: false, asserts: 0, skips: [] });
      }
      if (leftover) tests.push({ name: `${name} left processes running (killed)`, ok: false, asserts: 0, skips: [] });
      for (const t of tests) {
        if (!t.ok) { failed++; failures.push(`${name}: ${t.name}`); }
        else if (t.asserts > 0) passed++;
        else if (t.skips.length) {
          skipped++;
          for (const reason of new Set(t.skips)) skips.set(`${name}: ${reason}`, [...(skips.get(`${name}: ${reason}`) ?? []), t.name]);
        }
        // else: a test with no assertion is not counted as passing
      }
      process.stdout.write(`\n## ${name} (exit ${code ?? signal}, ${((Date.now() - began) / 1000).toFixed(1)} s)\n${out}`);
      if (code !== 0 || tests.some((t) => !t.ok)) process.stdout.write(err.split('\n').slice(-60).join('\n') + '\n');
      resolve();
    });
  });
}

async function pool(list, n) {
  const queue = [...list];
  const workers = Array.from({ length: n }, async () => {
    while (queue.length) await runFile(queue.shift());
  });
  await Promise.all(workers);
}

await pool(parallel, Math.max(1, Math.min(2, availableParallelism())));
await pool(serial, 1);
if (skips.size) {
  console.log('\nSkipped:');
  for (const [reason, names] of skips) console.log(`  - ${reason} (${names.length} test${names.length === 1 ? '' : 's'})`);
}
if (failures.length) {
  console.log('\nFailed:');
  for (const f of failures) console.log(`  - ${f}`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
