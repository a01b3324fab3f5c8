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
// A file that fails without a `not ok` line always says why: its exit code or
// signal, a timeout, processes it left running, or output held open after it
// exited; with the test that was running, the last lines of its stderr, how
// long it ran, the load average, and the files that ran beside it.
//   TEST_FILE_TIMEOUT_MS  per-file limit (default 5 minutes; the slowest files take about 2)
//   TEST_HELD_OPEN_MS     how long output may stay open after a file exited (default 10 s)
//   TEST_ROOT             directory of compiled tests (default dist/test; test/runner.test.ts points it elsewhere)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism, loadavg } from 'node:os';

const defaultRoot = new URL('../dist/test/', import.meta.url).pathname;
const root = process.env.TEST_ROOT ? join(process.env.TEST_ROOT, '/') : defaultRoot;
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
const files = walk(root).sort().filter((f) => root !== defaultRoot || existsSync(sourceOf(f)))
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

/** How long a file's stdout/stderr may stay open after it exited before whatever holds them is killed. */
const HELD_OPEN_MS = Number(process.env.TEST_HELD_OPEN_MS || 10_000);
const fmtLoad = () => loadavg().map((x) => x.toFixed(2)).join(' ');

function runFile(file) {
  return new Promise((resolve) => {
    const name = relative(root, file);
    // Its own process group, so a timed-out file goes with everything it started (npm, chromium).
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env }, detached: true });
    const beside = new Set([...running].map((c) => c.testName));
    for (const c of running) c.beside.add(name);
    child.testName = name;
    child.beside = beside;
    running.add(child);
    const began = Date.now();
    let out = '';
    let err = '';
    /** Why the runner stopped the file, if it did. */
    const stopped = [];
    let exited = null; // { code, signal, at }
    let heldOpen = null; // leftovers seen when stdout/stderr stayed open after exit
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => {
      stopped.push(`timed out after ${FILE_TIMEOUT_MS} ms (TEST_FILE_TIMEOUT_MS)`);
      killGroup(child);
    }, FILE_TIMEOUT_MS);
    let heldTimer = null;
    child.on('exit', (code, signal) => {
      exited = { code, signal, at: Date.now() };
      // 'close' waits for stdout and stderr too: a process the file started can hold them open after it exited.
      heldTimer = setTimeout(() => {
        heldOpen = leftovers(child.pid) || '(no process left in its group: a process outside it holds the pipe)';
        stopped.push(`exited after ${((exited.at - began) / 1000).toFixed(1)} s but its output stayed open ${HELD_OPEN_MS} ms longer`);
        killGroup(child);
        child.stdout.destroy();
        child.stderr.destroy();
      }, HELD_OPEN_MS);
    });
    child.on('close', (closeCode, closeSignal) => {
      clearTimeout(timer);
      clearTimeout(heldTimer);
      running.delete(child);
      const code = exited ? exited.code : closeCode;
      const signal = exited ? exited.signal : closeSignal;
      // Anything the file started and left running would hold ports and CPU for the files after it.
      const leftover = heldOpen ?? leftovers(child.pid);
      if (leftover && !heldOpen) killGroup(child);
      const tests = [];
      let current = null;
      /** The last test tape started: the one running when a file stops without finishing. */
      let last = null;
      let tapeFailCount = null;
      let tapePassCount = null;
      let okLines = 0;
      let notOkLines = 0;
      for (const line of out.split('\n')) {
        let m;
        if (/^ok \d+/.test(line)) okLines++;
        else if (/^not ok \d+/.test(line)) notOkLines++;
        if ((m = /^# SKIP (.*)$/.exec(line))) {
          tests.push({ name: m[1], ok: true, asserts: 0, skips: [m[1]] });
          current = null;
        } else if ((m = /^# fail\s+(\d+)/.exec(line))) {
          tapeFailCount = Number(m[1]);
        } else if ((m = /^# pass\s+(\d+)/.exec(line))) {
          tapePassCount = Number(m[1]);
        } else if ((m = /^# (.*)$/.exec(line)) && !/^# (tests|pass|fail|skip|todo|ok)\b/.test(line)) {
          current = { name: m[1], ok: true, asserts: 0, skips: [] };
          last = current;
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
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const where = finished ? 'after tape\'s summary' : last ? `during "${last.name}"` : 'before its first test';
      /** Why this file failed when no `not ok` line says so. */
      const causes = [];
      // When the runner stopped the file, that is the cause: the signal it sent says nothing more.
      if (stopped.length) causes.push(`${stopped.join('; ')} (${where})`);
      else if (code !== 0 && tests.every((t) => t.ok)) causes.push(`${how} ${where}`);
      else if (!finished && code === 0) causes.push(`ended with code 0 without tape's summary (${where})`);
      if (tapeFailCount !== null && tapeFailCount > notOkLines) {
        causes.push(`tape counted ${tapeFailCount} failed assertion(s) but only ${notOkLines} \`not ok\` line(s) began a line (output interleaved with TAP?)`);
      }
      if (tapePassCount !== null && tapePassCount > okLines) {
        causes.push(`tape counted ${tapePassCount} passing assertion(s) but only ${okLines} \`ok\` line(s) reached the runner (did the file replace console.log? tape prints through it)`);
      }
      if (leftover) causes.push(`left processes running (killed):\n${leftover}`);
      for (const c of causes) tests.push({ name: c, ok: false, asserts: 0, skips: [], cause: true });
      for (const t of tests) {
        if (!t.ok) { failed++; failures.push(`${name}: ${t.name.replace(/\n/g, ' | ').slice(0, 400)}`); }
        else if (t.asserts > 0) passed++;
        else if (t.skips.length) {
          skipped++;
          for (const reason of new Set(t.skips)) skips.set(`${name}: ${reason}`, [...(skips.get(`${name}: ${reason}`) ?? []), t.name]);
        }
        // else: a test with no assertion is not counted as passing
      }
      const secs = ((Date.now() - began) / 1000).toFixed(1);
      process.stdout.write(`\n## ${name} (exit ${signal ?? code}, ${secs} s)\n${out}`);
      if (code !== 0 || tests.some((t) => !t.ok)) {
        const tail = err.split('\n').slice(-60).join('\n');
        process.stdout.write(`-- ${name} failed: ${causes.length ? causes.join('\n   ') : 'see its `not ok` lines above'}\n`
          + `   ran ${secs} s; load average ${fmtLoad()}; beside: ${[...beside].join(', ') || '(nothing)'}\n`
          + `-- last lines of its stderr${err ? '' : ' (empty)'}:\n${tail}\n-- end of ${name}\n`);
      }
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
