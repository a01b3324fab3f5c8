/**
 * The `relaymesh` executable as an operator runs it: a child process, flags
 * and environment, JSON-lines logs, signals. Serial: one test uses the fixed
 * default port 7700.
 */
import test from 'tape';
import type { Test } from 'tape';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAST, startNode, waitFor } from '../helpers/testnet.js';

const CLI = fileURLToPath(new URL('../../bootstrap/cli.js', import.meta.url));

interface Run { child: ChildProcess; logs: Record<string, unknown>[]; stderr: string; exit: Promise<number | null> }

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'relaymesh-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function run(t: Test, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Run {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const r: Run = { child, logs: [], stderr: '', exit: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try { r.logs.push(JSON.parse(line)); } catch { r.logs.push({ unparsed: line }); }
    }
  });
  child.stderr!.on('data', (d) => { r.stderr += d; });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await r.exit; }
  });
  return r;
}

async function listening(r: Run): Promise<{ id: string; url: string; status: string }> {
  const ok = await waitFor(() => r.logs.some((l) => l.msg === 'listening') || r.child.exitCode !== null, 20_000);
  const entry = r.logs.find((l) => l.msg === 'listening');
  if (!ok || !entry) throw new Error(`did not start: ${JSON.stringify(r.logs)} ${r.stderr}`);
  return entry as unknown as { id: string; url: string; status: string };
}

test('--help lists every flag', async (t) => {
  const r = run(t, ['--help']);
  t.equal(await r.exit, 0, 'exits 0');
  const text = r.logs.map((l) => l.unparsed).join('\n');
  for (const flag of ['--port', '--host', '--bootstrap', '--public-url', '--data-dir', '--limit', '--ice-server', '--webrtc', '--no-signaling', '--no-demo', '--log-level']) {
    t.ok(text.includes(flag), `lists ${flag}`);
  }
  t.ok(text.includes('RELAYMESH_PORT'), 'names the environment variables');
});

test('runs with no flags on port 7700 and keeps its id in ./.relaymesh across restarts', async (t) => {
  const cwd = tempDir(t);
  const first = run(t, [], { cwd });
  const a = await listening(first);
  t.equal(a.url, 'ws://127.0.0.1:7700', 'the default port and host');
  t.ok(first.logs.some((l) => l.msg === 'identity created' && l.path === join(cwd, '.relaymesh', 'identity.json')), 'identity made in .relaymesh/');
  const health = await (await fetch(`${a.status}health`)).json() as { id: string };
  t.equal(health.id, a.id, '/health names the same id');
  first.child.kill('SIGTERM');
  t.equal(await first.exit, 0, 'SIGTERM: exits 0 on its own');
  const second = run(t, [], { cwd });
  const b = await listening(second);
  t.equal(b.id, a.id, 'the id survives the restart');
  t.ok(second.logs.some((l) => l.msg === 'identity loaded'), 'the identity file is read');
  second.child.kill('SIGINT');
  t.equal(await second.exit, 0, 'SIGINT: exits 0 on its own');
});

test('takes its settings from the environment and closes links cleanly on SIGTERM', async (t) => {
  const dir = tempDir(t);
  const r = run(t, [], { env: { RELAYMESH_PORT: '0', RELAYMESH_DATA_DIR: dir, RELAYMESH_LOG_LEVEL: 'debug', RELAYMESH_LIMITS: 'maxLinks=7,pingIntervalMs=500' } });
  const info = await listening(r);
  t.notEqual(info.url, 'ws://127.0.0.1:7700', 'RELAYMESH_PORT=0 picks a free port');
  t.ok(r.logs.some((l) => l.msg === 'identity created' && String(l.path).startsWith(dir)), 'RELAYMESH_DATA_DIR is used');
  const peer = await startNode(t, { bootstrap: [info.url], ...FAST });
  t.ok(await waitFor(() => peer.peers.length === 1), 'a node links to it');
  t.ok(await waitFor(() => r.logs.some((l) => l.msg === 'link up')), 'the link is logged');
  const gone = new Promise<{ code?: string } | null>((resolve) => peer.once('disconnect', (_id, err) => resolve(err)));
  r.child.kill('SIGTERM');
  const err = await gone;
  t.equal(err, null, 'the peer sees the link closed, not timed out as dead');
  t.equal(await r.exit, 0, 'exits 0');
  t.ok(r.logs.some((l) => l.msg === 'stopped'), 'logs stopped');
  t.ok(r.logs.every((l) => typeof l.time === 'string' && typeof l.level === 'string' && typeof l.msg === 'string'), 'every log line is a JSON object with time, level, msg');
});

test('rejects a bad flag value with a usage error', async (t) => {
  const bad = run(t, ['--port', '70000']);
  t.notEqual(await bad.exit, 0, 'a port out of range exits non-zero');
  t.match(bad.stderr, /port/, 'and says why');
  const limit = run(t, ['--port', '0', '--limit', 'noSuchLimit=3']);
  t.notEqual(await limit.exit, 0, 'an unknown limit exits non-zero');
  t.match(limit.stderr, /unknown limit/, 'and names the problem');
});
