/**
 * test/run.mjs says why a file failed when no `not ok` line does: a crash after
 * tape's summary, a signal, a timeout, processes left running, output held open
 * after exit, a `not ok` that does not begin a line, or TAP lines that never
 * reached the runner. Session 8 had two single-file failures whose cause the
 * runner's output did not give.
 */
import test from 'tape';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const runner = new URL('../../test/run.mjs', import.meta.url).pathname;

/** Fixture files print TAP by hand (no tape: they live outside the package). */
const fixtures: Record<string, string> = {
  'pass.test.js': "console.log('TAP version 13\\n# passes\\nok 1 fine\\n\\n1..1\\n# tests 1\\n# pass  1\\n\\n# ok');\n",
  'late-throw.test.js': "console.log('TAP version 13\\n# passes first\\nok 1 fine\\n\\n1..1\\n# tests 1\\n# pass  1\\n\\n# ok');\n"
    + "setTimeout(() => { throw new Error('late teardown error'); }, 10);\n",
  'segv.test.js': "console.log('TAP version 13\\n# before\\nok 1 fine\\n# crashing test');\n"
    + "process.kill(process.pid, 'SIGSEGV');\nsetInterval(() => {}, 1000);\n",
  'hang.test.js': "console.log('TAP version 13\\n# hanging test');\nsetInterval(() => {}, 1000);\n",
  'leftover.test.js': "import { spawn } from 'node:child_process';\n"
    + "spawn('sleep', ['601'], { stdio: 'ignore' }).unref();\n"
    + "console.log('TAP version 13\\n# leaves a child\\nok 1 fine\\n\\n1..1\\n# tests 1\\n# pass  1\\n\\n# ok');\n",
  'held-open.test.js': "import { spawn } from 'node:child_process';\n"
    + "spawn('sleep', ['602'], { stdio: 'inherit' }).unref();\n"
    + "console.log('TAP version 13\\n# holds its output\\nok 1 fine\\n\\n1..1\\n# tests 1\\n# pass  1\\n\\n# ok');\n",
  'swallowed.test.js': "console.log('TAP version 13\\n# its ok lines went elsewhere\\n\\n1..2\\n# tests 2\\n# pass  2\\n\\n# ok');\n",
  'interleaved.test.js': "process.stdout.write('TAP version 13\\n# interleaved\\nok 1 a\\nnoise without a newlinenot ok 2 b\\n\\n1..2\\n# tests 2\\n# pass  1\\n# fail  1\\n');\n"
    + 'process.exitCode = 1;\n',
};

/** Runs test/run.mjs on `files` (substrings) with `env` added; resolves with its exit code and everything it printed. */
function run(env: Record<string, string>, files: string[]): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [runner, ...files], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, out })));
}

test('the runner names the cause of every failure that has no `not ok` line, with the test that was running and its stderr', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relaymesh-runner-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(fixtures)) writeFileSync(join(dir, name), text);
  // The hanging file runs alone under a short limit; the others keep the default one (a loaded machine may start
  // a file slowly, and its time must not count against it).
  const others = Object.keys(fixtures).filter((f) => f !== 'hang.test.js');
  const [first, second] = await Promise.all([
    run({ TEST_ROOT: dir, TEST_HELD_OPEN_MS: '1000' }, others),
    run({ TEST_ROOT: dir, TEST_FILE_TIMEOUT_MS: '3000' }, ['hang.test.js']),
  ]);
  const out = first.out + second.out;
  const code = first.code;
  t.equal(second.code, 1, 'the runner exits non-zero on a timeout');
  const failed = first.out.slice(first.out.lastIndexOf('\nFailed:')) + second.out.slice(second.out.lastIndexOf('\nFailed:'));
  t.equal(code, 1, 'the runner exits non-zero');
  t.ok(/tests: 6 passed, 8 failed, 0 skipped/.test(first.out), `summary counts each file's passes and each cause (${first.out.trim().split('\n').pop()})`);
  t.notOk(/pass\.test\.js/.test(failed), 'the passing file is not listed as failed');
  t.ok(failed.includes("late-throw.test.js: exited with code 1 after tape's summary"), 'a throw after the summary: exit code, after the summary');
  t.ok(out.includes('Error: late teardown error'), "the late throw's stderr is printed");
  t.ok(failed.includes('segv.test.js: was killed by SIGSEGV during "crashing test"'), 'a signal: its name and the test that was running');
  t.ok(failed.includes('hang.test.js: timed out after 3000 ms (TEST_FILE_TIMEOUT_MS) (during "hanging test")'), 'a timeout: the limit and the test that was running');
  t.ok(failed.includes('leftover.test.js: left processes running (killed):'), 'a process left running is a failure');
  t.ok(/sleep 601/.test(out), 'the process left running is shown');
  t.ok(failed.includes('held-open.test.js: exited after'), 'output held open after exit is a failure');
  t.ok(failed.includes('held-open.test.js: left processes running (killed):') && /sleep 602/.test(out), 'and what held it is shown');
  t.ok(failed.includes('interleaved.test.js: tape counted 1 failed assertion(s) but only 0 `not ok` line(s) began a line'), 'a `not ok` glued to other output is still a failure');
  t.ok(failed.includes('swallowed.test.js: tape counted 2 passing assertion(s) but only 0 `ok` line(s) reached the runner'), 'assertion lines that never reached the runner (a replaced console.log) are a failure');
  t.ok(/-- hang\.test\.js failed: .*\n {3}ran [\d.]+ s; load average [\d. ]+; beside: /.test(out), 'each failed file says how long it ran, the load and what ran beside it');
});
