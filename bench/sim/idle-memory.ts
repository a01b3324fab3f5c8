/**
 * What an idle level-a node holds: N real PeerRelay nodes on the in-memory
 * transport (as `npm run sim -- --level a` builds them), left alone for
 * --settle seconds and until their links stop growing, then --idle seconds more (default 240: two ages of
 * the routers' duplicate caches, which fill with the relayed refresh lookups until then; the heap used is
 * sampled every 30 s to show it level off), then the process's memory per node, split into V8 heap,
 * ArrayBuffer data and the rest of RSS (free heap pages, allocator slack).
 *
 *   node --expose-gc dist/bench/sim/idle-memory.js --nodes 200 --settle 45 [--idle 240] [--snapshot FILE]
 */
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { PeerRelay } from '../../src/index.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { kemReady } from '../../src/crypto/kem.js';
import { seededRandom } from './measure.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '200' },
    settle: { type: 'string', default: '45' },
    seed: { type: 'string', default: '1' },
    snapshot: { type: 'string' },
    'max-wait': { type: 'string', default: '600' },
    idle: { type: 'string', default: '240' },
  },
});
const n = Number(values.nodes);
const settleMs = Number(values.settle) * 1000;
const rand = seededRandom(Number(values.seed));
// The WebAssembly ML-KEM / ML-DSA modules (a fixed cost per thread, ~1.5 MiB) load before the baseline, as they would in any process.
const backend = await kemReady();
console.log(`idle level-a memory: ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}; ${n} nodes, ${settleMs / 1000} s; ML-KEM/ML-DSA ${backend}`);

const gc = () => { global.gc?.(); global.gc?.(); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
gc();
const m0 = process.memoryUsage();
const t0 = performance.now();
const net = new MemoryNetwork();
const nodes: PeerRelay[] = [];
for (let i = 0; i < n; i++) {
  const fanout = 1 + Math.floor(rand() * 3);
  const bootstrap = new Set<string>();
  for (let k = 0; k < fanout && nodes.length > 0; k++) bootstrap.add(`mem://${nodes[Math.floor(rand() * nodes.length)].identity.idHex}`);
  nodes.push(new PeerRelay({ memory: net, bootstrap: [...bootstrap] }));
  if (i % 100 === 99) await sleep(0);
}
await sleep(settleMs);
// Then until the links stop growing (under 1 % more in 15 s), at most --max-wait s: idle means formed.
const totalLinks = () => nodes.reduce((a, x) => a + x.peers.length, 0);
const waitEnd = Date.now() + Number(values['max-wait']) * 1000;
for (let before = totalLinks(); Date.now() < waitEnd; ) {
  await sleep(15_000);
  const now = totalLinks();
  if (now <= before * 1.01) break;
  before = now;
}
const idleMs = Number(values.idle) * 1000;
const heapPerNode = () => ((process.memoryUsage().heapUsed - m0.heapUsed) / 1024 / n).toFixed(1);
const samples: string[] = [];
for (let waited = 0; waited < idleMs; waited += 30_000) {
  gc();
  samples.push(`${waited / 1000} s: ${heapPerNode()}`);
  await sleep(Math.min(30_000, idleMs - waited));
}
gc();
await sleep(100);
gc();
if (samples.length) console.log(`V8 heap used per node (KiB) after the links stopped growing, ${samples.join(', ')}, ${idleMs / 1000} s: ${heapPerNode()}`);
const m = process.memoryUsage();
const kib = (b: number) => (b / 1024 / n).toFixed(1);
const links = nodes.map((x) => x.peers.length).sort((a, b) => a - b);
const rss = m.rss - m0.rss;
const heap = m.heapUsed - m0.heapUsed;
const ab = m.arrayBuffers - m0.arrayBuffers;
const freeHeap = (m.heapTotal - m.heapUsed) - (m0.heapTotal - m0.heapUsed);
console.log(`after ${((performance.now() - t0) / 1000).toFixed(0)} s: links per node min/p50/max ${links[0]}/${links[links.length >> 1]}/${links[links.length - 1]}`);
console.log(`per node: RSS ${kib(rss)} KiB = V8 heap used ${kib(heap)} + ArrayBuffer data ${kib(ab)} + heap committed but free ${kib(freeHeap)} + the rest ${kib(rss - heap - ab - freeHeap)} KiB (allocator, code)`);
// Committed but free space by heap space, for the whole process (the young generation's semispaces are a fixed cost, not a per-node one).
console.log(`heap spaces, committed but free (whole process): ${getHeapSpaceStatistics().map((sp) => `${sp.space_name} ${((sp.space_size - sp.space_used_size) / 1048576).toFixed(1)} MiB`).join(', ')}`);
if (values.snapshot) console.log(`heap snapshot: ${writeHeapSnapshot(values.snapshot)}`);
await Promise.all(nodes.map((x) => new Promise<void>((r) => x.destroy(() => r()))));
