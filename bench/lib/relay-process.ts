/**
 * B -> A -> C with A in a child process (bench/lib/relay-child.ts) and B, C
 * here: the relay's own CPU per relayed message, for relaymesh and for a raw
 * `ws` forwarder of the same shape.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import type { RelayShape } from './relay-shape.js';
import { rawEnds } from './relay-raw-ws.js';
import { relaymeshEnds } from './relay-relaymesh.js';

export interface RemoteRelay extends RelayShape {
  /** The child's CPU time used so far (µs, user + system). */
  cpuUs(): Promise<number>;
}

async function child(kind: 'raw' | 'relaymesh'): Promise<{ proc: ChildProcess; url: string }> {
  const proc = fork(join(dirname(fileURLToPath(import.meta.url)), 'relay-child.js'), [kind], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('relay child did not listen in 10 s')), 10_000);
    proc.once('exit', (code) => reject(new Error(`relay child exited (${code})`)));
    proc.on('message', (m: { url?: string }) => { if (m.url) { clearTimeout(timer); resolve(m.url); } });
  });
  return { proc, url };
}

function cpuOf(proc: ChildProcess): () => Promise<number> {
  return () => new Promise((resolve) => {
    const on = (m: { cpu?: { user: number; system: number } }) => {
      if (!m.cpu) return;
      proc.off('message', on);
      resolve(m.cpu.user + m.cpu.system);
    };
    proc.on('message', on);
    proc.send('cpu');
  });
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) { resolve(); return; }
    proc.once('exit', () => resolve());
    proc.disconnect();
    setTimeout(() => proc.kill(), 2000).unref();
  });
}

export async function startRemoteRaw(): Promise<RemoteRelay> {
  const { proc, url } = await child('raw');
  const ends = await rawEnds(url);
  await new Promise((r) => setTimeout(r, 50));
  return {
    name: 'raw ws forwarder (own process)',
    send: ends.send,
    onReceive: ends.onReceive,
    cpuUs: cpuOf(proc),
    close: async () => { for (const ws of ends.sockets) ws.terminate(); await stop(proc); },
  };
}

export async function startRemoteRelaymesh(): Promise<RemoteRelay> {
  const { proc, url } = await child('relaymesh');
  const ends = await relaymeshEnds(url).catch(async (err: unknown) => { await stop(proc); throw err; });
  return {
    name: 'relaymesh A (own process)',
    send: ends.send,
    onReceive: ends.onReceive,
    cpuUs: cpuOf(proc),
    close: async () => { await ends.close(); await stop(proc); },
  };
}
