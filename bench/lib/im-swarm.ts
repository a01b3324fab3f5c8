/**
 * A child process holding many raw IM clients (bench/signaling.ts, issue 16),
 * so the node under test has its process to itself. Commands arrive over
 * IPC; each answers with one message.
 *   {cmd:'connect', url, n}            -> {ok, ms}
 *   {cmd:'register', from, to, distinct, batchEvery} -> {ok, ms}   (distinct: each its own ML-DSA proof)
 *   {cmd:'leave', n}                   -> {ok, ms, frames, ids}   (the first n clients close at once; waits until
 *                                          every other client heard of every one of them)
 *   {cmd:'exit'}
 */
import { WebSocket, type RawData } from 'ws';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { generateKeyPair } from '../../src/index.js';
import { toBase64 } from '../../src/util/bytes.js';

interface Client { ws: WebSocket; id: string; waiting: ((f: any) => void) | null; seen: Set<string>; frames: number }

const clients: Client[] = [];
let leaving = new Set<string>();
let onHeard: (() => void) | null = null;
let heardAll = 0;

const dsa = ml_dsa65.keygen(new Uint8Array(32).fill(5));
function proof(): { publicKey: number[]; verification: Record<string, string> } {
  const kem = generateKeyPair().publicKey;
  return {
    publicKey: Array.from(kem),
    verification: { algorithm: 'ml-dsa', serializedSignedData: toBase64(ml_dsa65.sign(kem, dsa.secretKey)), serializedPublicKey: toBase64(dsa.publicKey), serializedMessage: toBase64(kem) },
  };
}

function open(url: string, i: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    const c: Client = { ws, id: `c${i}`, waiting: null, seen: new Set(), frames: 0 };
    ws.on('message', (d: RawData) => {
      const f = JSON.parse(String(d));
      if (f.type === 'peer_disconnected') {
        c.frames++;
        const before = c.seen.size;
        for (const id of Array.isArray(f.payload.peerIds) ? f.payload.peerIds : [f.payload.peerId]) if (leaving.has(id)) c.seen.add(id);
        if (before < leaving.size && c.seen.size === leaving.size && ++heardAll === clients.length) onHeard?.();
        return;
      }
      const w = c.waiting;
      c.waiting = null;
      w?.(f);
    });
    ws.once('open', () => { clients[i] = c; resolve(); });
    ws.once('error', reject);
  });
}

function rtt(c: Client, frame: unknown): Promise<any> {
  return new Promise((resolve) => { c.waiting = resolve; c.ws.send(JSON.stringify(frame)); });
}

async function lanes(from: number, to: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(Array.from({ length: width }, async () => { for (let i = next++; i < to; i = next++) await fn(i); }));
}

process.on('message', async (m: any) => {
  const start = performance.now();
  try {
    switch (m.cmd) {
      case 'connect':
        await lanes(0, m.n, 64, (i) => open(m.url, i));
        return process.send!({ ok: true, ms: performance.now() - start });
      case 'register': {
        const proofs = m.distinct ? Array.from({ length: m.to - m.from }, proof) : [proof()];
        const t0 = performance.now();
        await lanes(m.from, m.to, 32, async (i) => {
          const p = proofs[m.distinct ? i - m.from : 0];
          const capabilities = i % m.batchEvery === 0 ? [] : ['relaymesh-presence-v1'];
          const f = await rtt(clients[i], { type: 'register', payload: { clientId: clients[i].id, ...p, capabilities } });
          if (f.type !== 'register') throw new Error(`registration of ${clients[i].id} refused: ${JSON.stringify(f.payload)}`);
        });
        return process.send!({ ok: true, ms: performance.now() - t0 });
      }
      case 'leave': {
        const goers = clients.slice(0, m.n);
        leaving = new Set(goers.map((c) => c.id));
        heardAll = 0;
        for (const c of clients) { c.seen.clear(); c.frames = 0; }
        const done = new Promise<void>((r) => { onHeard = r; });
        for (const c of goers) c.ws.terminate();
        clients.splice(0, m.n);
        await done;
        return process.send!({ ok: true, ms: performance.now() - start, frames: clients.reduce((n, c) => n + c.frames, 0), ids: m.n });
      }
      case 'exit':
        for (const c of clients) c.ws.terminate();
        process.send!({ ok: true }, () => process.exit(0));
    }
  } catch (err) {
    process.send!({ ok: false, error: String((err as Error).message) });
  }
});
