/**
 * B -> A -> C with A in a child process (bench/lib/relay-child.ts) and B, C
 * here: the relay's own CPU per relayed message, for relaymesh and for a raw
 * `ws` forwarder of the same shape.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { WebSocket, type RawData } from 'ws';
import { PeerRelay } from '../../src/index.js';
import { once, type End, type RelayShape } from './relay-shape.js';

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
  const dial = async (name: End) => {
    const ws = new WebSocket(`${url}/${name}`, { perMessageDeflate: false });
    await once(ws, 'open');
    return ws;
  };
  const ends = { B: await dial('B'), C: await dial('C') };
  await new Promise((r) => setTimeout(r, 50));
  const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
  for (const at of ['B', 'C'] as const) {
    ends[at].on('message', (data: RawData, isBinary: boolean) => handlers[at](isBinary ? data : JSON.parse(String(data))));
  }
  return {
    name: 'raw ws forwarder (own process)',
    send: (from, payload) => {
      if (payload instanceof Uint8Array) ends[from].send(payload, { binary: true });
      else ends[from].send(JSON.stringify(payload));
    },
    onReceive: (at, cb) => { handlers[at] = cb; },
    cpuUs: cpuOf(proc),
    close: async () => { for (const ws of Object.values(ends)) ws.terminate(); await stop(proc); },
  };
}

export async function startRemoteRelaymesh(): Promise<RemoteRelay> {
  const { proc, url } = await child('relaymesh');
  const b = new PeerRelay({ bootstrap: [url] });
  const c = new PeerRelay({ bootstrap: [url] });
  const nodes = [b, c];
  const closeAll = async () => {
    await Promise.all(nodes.map((n) => new Promise<void>((r) => n.destroy(() => r()))));
    await stop(proc);
  };
  try {
    await Promise.all([once(b, 'peer'), once(c, 'peer')]);
    const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
    b.on('message', (d) => handlers.B(d));
    c.on('message', (d) => handlers.C(d));
    for (const [from, to] of [[b, c], [c, b]] as const) {
      const got = once(to, 'message');
      from.send(to.id, { warm: true });
      await got;
    }
    if (b.peers.length !== 1 || c.peers.length !== 1) throw new Error('B and C must link to A only');
    const ends = { B: b, C: c };
    return {
      name: 'relaymesh A (own process)',
      send: (from, payload) => { ends[from].send((from === 'B' ? c : b).id, payload); },
      onReceive: (at, cb) => { handlers[at] = cb; },
      cpuUs: cpuOf(proc),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
