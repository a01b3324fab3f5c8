/**
 * Testnet helpers: start N nodes in one process on real WebSocket servers on
 * loopback (or the in-memory transport), wait for conditions, tear down.
 */
import type { Test } from 'tape';
import { PeerRelay, type PeerRelayOptions } from '../../src/index.js';
import { MemoryNetwork } from '../../src/transport/memory.js';

export const LOOPBACK = '127.0.0.1';

/** Fast timers so liveness and repair show within a test's time. */
export const FAST: Partial<PeerRelayOptions> = {
  pingIntervalMs: 500, linkTimeoutMs: 2000, refreshIntervalMs: 1000, maxBackoffMs: 2000,
};

/** Starts a node and resolves once it listens (if it has a port). */
export async function startNode(t: Test | null, opts: PeerRelayOptions = {}): Promise<PeerRelay> {
  const node = new PeerRelay({ host: LOOPBACK, ...opts });
  t?.teardown(() => new Promise<void>((r) => node.destroy(() => r())));
  if (opts.port !== undefined) await new Promise<void>((resolve, reject) => {
    node.once('listening', resolve);
    node.once('error', reject);
  });
  return node;
}

export function urlOf(node: PeerRelay): string {
  return `ws://${LOOPBACK}:${node.address()!.port}`;
}

/** A mesh of `n` WebSocket nodes, each bootstrapped off a random earlier one. */
export async function startMesh(t: Test, n: number, opts: PeerRelayOptions = {}): Promise<PeerRelay[]> {
  const nodes: PeerRelay[] = [];
  for (let i = 0; i < n; i++) {
    const bootstrap = i === 0 ? [] : [urlOf(nodes[Math.floor(Math.random() * i)])];
    nodes.push(await startNode(t, { port: 0, bootstrap, ...FAST, ...opts }));
  }
  return nodes;
}

/** A mesh of `n` in-memory nodes. */
export function startMemoryMesh(t: Test, n: number, opts: PeerRelayOptions = {}): { net: MemoryNetwork; nodes: PeerRelay[] } {
  const net = new MemoryNetwork();
  const nodes: PeerRelay[] = [];
  for (let i = 0; i < n; i++) {
    const bootstrap = i === 0 ? [] : [`mem://${nodes[Math.floor(Math.random() * i)].identity.idHex}`];
    const node = new PeerRelay({ memory: net, bootstrap, ...FAST, ...opts });
    t.teardown(() => new Promise<void>((r) => node.destroy(() => r())));
    nodes.push(node);
  }
  // Memory urls are mem://<id hex>, known before start.
  return { net, nodes };
}

/** Polls `cond` until true or `ms` pass; resolves to whether it became true. */
export async function waitFor(cond: () => boolean, ms = 10_000, step = 25): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(step);
  }
  return cond();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with the next 'message' on `node` that satisfies `pred`, or rejects after `ms`. */
export function nextMessage(node: PeerRelay, pred: (data: unknown, from: Uint8Array) => boolean = () => true, ms = 10_000): Promise<{ data: unknown; from: Uint8Array }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { node.off('message', on); reject(new Error('no message in time')); }, ms);
    function on(data: unknown, from: Uint8Array) {
      if (!pred(data, from)) return;
      clearTimeout(timer);
      node.off('message', on);
      resolve({ data, from });
    }
    node.on('message', on);
  });
}

/** Resolves once no node's link count changed for `quietMs` (discovery settled), or after `ms`. */
export async function settle(nodes: PeerRelay[], quietMs = 1500, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let last = '';
  let since = Date.now();
  while (Date.now() < end) {
    const now = nodes.map((n) => n.peers.length).join(',');
    if (now !== last) { last = now; since = Date.now(); }
    else if (Date.now() - since >= quietMs) return;
    await sleep(100);
  }
}

/** Sends from every node to every other and resolves to the pairs that were not delivered. */
export async function allPairsReach(nodes: PeerRelay[], ms = 20_000): Promise<string[]> {
  const expected = new Set<string>();
  const handlers: [PeerRelay, (d: unknown, f: Uint8Array) => void][] = [];
  // Why a pair failed, when its origin was told ('undeliverable' with a code): part of the answer.
  const why = new Map<string, string>();
  const onUndeliverable: [PeerRelay, (err: { code?: string } | null, to: Uint8Array) => void][] = [];
  const index = new Map(nodes.map((n, i) => [Buffer.from(n.id).toString('hex'), i]));
  nodes.forEach((b, i) => {
    const h = (d: unknown) => {
      if (d && typeof d === 'object' && 'pair' in d) expected.delete((d as { pair: string }).pair);
    };
    b.on('message', h);
    handlers.push([b, h]);
    const u = (err: { code?: string } | null, to: Uint8Array) => {
      const j = index.get(Buffer.from(to).toString('hex'));
      if (j !== undefined) why.set(`${i}->${j}`, err?.code ?? 'undeliverable');
    };
    b.on('undeliverable', u);
    onUndeliverable.push([b, u]);
  });
  // One source at a time (a wave of n-1 handshakes), so a loaded CI machine
  // measures reachability rather than how many ML-KEM operations fit in a timeout.
  for (let i = 0; i < nodes.length; i++) {
    nodes.forEach((b, j) => {
      if (i === j) return;
      const pair = `${i}->${j}`;
      expected.add(pair);
      nodes[i].send(b.id, { pair });
    });
    await sleep(50);
  }
  await waitFor(() => expected.size === 0, ms, 50);
  for (const [b, h] of handlers) b.off('message', h);
  for (const [b, u] of onUndeliverable) b.off('undeliverable', u);
  return [...expected].map((pair) => (why.has(pair) ? `${pair} ${why.get(pair)}` : pair));
}
