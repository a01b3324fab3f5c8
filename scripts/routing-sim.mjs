// Routing-table health in an in-memory mesh: for every node X and every other
// node T, does X hold a link in the k-bucket T falls in? (Greedy XOR routing
// always makes progress when it does.) Usage, after a build:
//   node scripts/routing-sim.mjs [nodes=60]
import { PeerRelay, MemoryNetwork } from '../dist/src/index.js';
const N = Number(process.argv[2] || 60);
const net = new MemoryNetwork();
const nodes = [];
for (let i = 0; i < N; i++) {
  const bootstrap = i === 0 ? [] : [`mem://${nodes[Math.floor(Math.random() * i)].identity.idHex}`];
  nodes.push(new PeerRelay({ memory: net, bootstrap, refreshIntervalMs: 1000 }));
}
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
function cpl(a, b) { for (let i = 0; i < 20; i++) { const x = a[i] ^ b[i]; if (x) return i * 8 + Math.clz32(x) - 24; } return 160; }
for (let s = 0; s < 6; s++) {
  await sleep(2000);
  let viol = 0, total = 0;
  for (const x of nodes) {
    const have = new Set(x.peers.map(p => cpl(x.id, p)));
    for (const t of nodes) { if (t === x) continue; total++; if (!have.has(cpl(x.id, t.id))) viol++; }
  }
  console.log(`t=${(s+1)*2}s violations ${viol}/${total}`, 'links avg', (nodes.reduce((a,n)=>a+n.peers.length,0)/N).toFixed(1));
}
nodes.forEach(n => n.destroy());
