/**
 * `npm start` under a process manager: the signal goes to the npm process, not
 * to node. Each test starts `npm start` in the repository on a free port
 * (RELAYMESH_PORT=0) with a temporary data directory, waits for its
 * 'listening' line, signals, and checks that npm and every process under it are
 * gone within 5 s and that the port can be bound again. Serial: it runs npm.
 */
import test from 'tape';
import type { Test } from 'tape';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/testnet.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const STOP_WITHIN_MS = 5000;

interface Started { npm: ChildProcess; logs: Record<string, unknown>[]; exit: Promise<{ code: number | null; signal: string | null }> }

/** Parent pid of every live process, from /proc. */
function parents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // pid (comm) state ppid ...; comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') out.set(Number(name), Number(ppid));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function descendants(pid: number): number[] {
  const map = parents();
  const out: number[] = [];
  const walk = (p: number) => { for (const [c, pp] of map) if (pp === p) { out.push(c); walk(c); } };
  walk(pid);
  return out;
}

const alive = (pid: number) => parents().has(pid);

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function npmStart(t: Test): Started {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-signals-'));
  // detached: npm leads its own process group, as under a terminal or a process manager.
  const npm = spawn('npm', ['start'], {
    cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RELAYMESH_PORT: '0', RELAYMESH_DATA_DIR: dataDir },
  });
  const r: Started = { npm, logs: [], exit: new Promise((resolve) => npm.on('exit', (code, signal) => resolve({ code, signal }))) };
  let buf = '';
  npm.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (line.startsWith('{')) try { r.logs.push(JSON.parse(line)); } catch { /* npm's own lines */ }
    }
  });
  npm.stderr!.resume();
  t.teardown(async () => {
    // The whole group: a node left behind by npm (the bug this file tests) is in it too.
    try { process.kill(-npm.pid!, 'SIGKILL'); } catch { /* all gone */ }
    if (npm.exitCode === null && npm.signalCode === null) await r.exit;
    npm.stdout!.destroy();
    npm.stderr!.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return r;
}

/** Waits for the 'listening' line; returns the port and the processes under npm (sh and node, or node alone). */
async function listening(t: Test, r: Started): Promise<{ port: number; tree: number[] }> {
  const ok = await waitFor(() => r.logs.some((l) => l.msg === 'listening') || r.npm.exitCode !== null, 30_000);
  const entry = r.logs.find((l) => l.msg === 'listening');
  if (!ok || !entry) throw new Error(`npm start did not listen: ${JSON.stringify(r.logs)}`);
  const port = Number(new URL(String(entry.url)).port);
  const tree = descendants(r.npm.pid!);
  t.ok(tree.length > 0, `npm start runs node under npm (${tree.length} process${tree.length === 1 ? '' : 'es'})`);
  return { port, tree };
}

async function stopped(t: Test, r: Started, port: number, tree: number[]): Promise<void> {
  const exited = await Promise.race([r.exit, sleep(STOP_WITHIN_MS, null, { ref: false })]);
  t.ok(exited, `npm exits within ${STOP_WITHIN_MS / 1000} s`);
  t.deepEqual(exited, { code: 0, signal: null }, 'with code 0: node stopped cleanly');
  t.ok(await waitFor(() => tree.every((pid) => !alive(pid)), 1000), 'no process under npm is left running');
  t.ok(await canBind(port), `port ${port} can be bound again`);
  t.ok(r.logs.some((l) => l.msg === 'stopped'), 'node logs stopped');
  t.notOk(r.logs.some((l) => l.msg === 'second signal: exiting now'), 'and no second signal');
}

test('npm start stops cleanly on SIGTERM sent to the npm process', async (t) => {
  const r = npmStart(t);
  const { port, tree } = await listening(t, r);
  process.kill(r.npm.pid!, 'SIGTERM');
  await stopped(t, r, port, tree);
});

test('npm start stops cleanly on SIGINT sent to the npm process', async (t) => {
  const r = npmStart(t);
  const { port, tree } = await listening(t, r);
  process.kill(r.npm.pid!, 'SIGINT');
  await stopped(t, r, port, tree);
});

test('npm start stops cleanly on Ctrl-C: SIGINT to the whole process group, which node gets twice', async (t) => {
  const r = npmStart(t);
  const { port, tree } = await listening(t, r);
  // Node gets it from the "terminal" and again from npm, which forwards it.
  process.kill(-r.npm.pid!, 'SIGINT');
  await stopped(t, r, port, tree);
});

test('npm start stops cleanly when a process manager sends SIGTERM to npm and node at once', async (t) => {
  const r = npmStart(t);
  const { port, tree } = await listening(t, r);
  for (const pid of [r.npm.pid!, ...tree]) process.kill(pid, 'SIGTERM');
  await stopped(t, r, port, tree);
});
