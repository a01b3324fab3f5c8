#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) in its own process,
// two at a time, reads their TAP, and ends with one line:
//   tests: N passed, N failed
// A test counts as failed if any of its assertions failed, or if its file
// crashed or timed out before finishing. Exit code is non-zero on any failure.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { availableParallelism } from 'node:os';

const root = new URL('../dist/test/', import.meta.url).pathname;
const filter = process.argv.slice(2);
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS || 600_000);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(root).sort().filter((f) => filter.length === 0 || filter.some((x) => f.includes(x)));
// Files whose name ends in .serial.test.js run alone (fixed ports, heavy load).
const serial = files.filter((f) => f.endsWith('.serial.test.js'));
const parallel = files.filter((f) => !f.endsWith('.serial.test.js'));
let passed = 0;
let failed = 0;
const failures = [];

function runFile(file) {
  return new Promise((resolve) => {
    const name = relative(root, file);
    const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    const timer = setTimeout(() => { err += `\n(timed out after ${FILE_TIMEOUT_MS} ms)`; child.kill('SIGKILL'); }, FILE_TIMEOUT_MS);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const tests = [];
      let current = null;
      for (const line of out.split('\n')) {
        let m;
        if ((m = /^# (.*)$/.exec(line)) && !/^# (tests|pass|fail|ok)\b/.test(line)) {
          current = { name: m[1], ok: true, asserts: 0 };
          tests.push(current);
        } else if (/^not ok \d+/.test(line)) {
          if (!current) { current = { name: '(outside a test)', ok: true, asserts: 0 }; tests.push(current); }
          current.ok = false;
          current.asserts++;
        } else if (/^ok \d+/.test(line) && current) {
          current.asserts++;
        }
      }
      const finished = /^# (ok|fail|pass)/m.test(out);
      if (code !== 0 && tests.every((t) => t.ok)) {
        tests.push({ name: `${name} exited with ${signal ?? code} before finishing`, ok: false, asserts: 0 });
      } else if (!finished && code === 0) {
        tests.push({ name: `${name} ended without tape's summary`, ok: false, asserts: 0 });
      }
      for (const t of tests) {
        if (t.ok && t.asserts === 0) continue; // a test with no assertion is not counted as passing
        if (t.ok) passed++;
        else { failed++; failures.push(`${name}: ${t.name}`); }
      }
      process.stdout.write(`\n## ${name} (exit ${code ?? signal})\n${out}`);
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
if (failures.length) {
  console.log('\nFailed:');
  for (const f of failures) console.log(`  - ${f}`);
}
console.log(`tests: ${passed} passed, ${failed} failed`);
process.exitCode = failed > 0 || passed === 0 ? 1 : 0;
