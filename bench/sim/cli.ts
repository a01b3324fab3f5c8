/**
 * The simulator, one command:
 *   npm run sim -- --level a --nodes 2000 --churn 0.2 [--workers 2]
 *   npm run sim -- --level b --nodes 100000 --churn 0.2 --adversarial 0.1
 *   npm run sim -- --level c --procs 8 --nodes 1000
 * Prints the machine, the options and a table per run; --json FILE keeps the
 * raw report. Levels: a (real code and crypto on the in-memory transport),
 * b (the real routing code in virtual time, no crypto, no sockets), c (real
 * code and crypto in child processes on real WebSockets over 127.0.0.1).
 */
import { kemReady } from '../../src/crypto/kem.js';
import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import { writeFileSync } from 'node:fs';
import { runLevelA, type LevelAReport } from './level-a.js';
import { runLevelB, type LevelBReport, type PhaseB } from './level-b.js';
import { runLevelC, type LevelCReport } from './level-c.js';

const { values } = parseArgs({
  options: {
    level: { type: 'string', default: 'a' },
    nodes: { type: 'string', default: '200' },
    churn: { type: 'string', default: '0.2' },
    pairs: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    settle: { type: 'string', default: '120' },
    'churn-settle': { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    adversarial: { type: 'string', default: '0' },
    latency: { type: 'string', default: '20' },
    procs: { type: 'string', default: '8' },
    workers: { type: 'string', default: '1' },
    retransmits: { type: 'string' },
    lookahead: { type: 'string', default: '0' },
    liars: { type: 'boolean', default: false },
    'join-rate': { type: 'string' },
    turn: { type: 'string' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  },
});
const num = (k: keyof typeof values, min: number, max: number): number => {
  const v = Number(values[k]);
  if (!Number.isFinite(v) || v < min || v > max) throw new RangeError(`--${String(k)} must be a number from ${min} to ${max}, got ${String(values[k])}`);
  return v;
};

/** --retransmits N: the node limit (0 turns acks off). */
function retransmits(): { retransmits?: number } { return values.retransmits !== undefined ? { retransmits: num('retransmits', 0, 16) } : {}; }
/** --lookahead 1: NEIGHBOURS adverts every 15 s at most (the routing lookahead, PROTOCOL §4.2; off by default, as in a node). */
function lookahead(): { neighbourAdvertMs?: number } { return num('lookahead', 0, 1) === 1 ? { neighbourAdvertMs: 15_000 } : {}; }

const machine = `${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, Node ${process.version}`;
console.log(`relaymesh simulator: level ${values.level}, ${machine}, ML-KEM ${await kemReady()}`);
if (!['a', 'b', 'c'].includes(values.level!)) throw new RangeError(`--level must be a, b or c, got ${values.level}`);
const t0 = Date.now();
const log = values.quiet ? undefined : (l: string) => console.log(`  [${((Date.now() - t0) / 1000).toFixed(0)} s] ${l}`);
const common = { nodes: num('nodes', 2, 1_000_000), churn: num('churn', 0, 0.9), pairs: num('pairs', 1, 1_000_000), seed: num('seed', 0, 2 ** 32) };
if (values.level === 'a') {
  const opts = {
    ...common, pairRate: num('rate', 1, 100_000), workers: num('workers', 1, 64),
    maxSettleMs: num('settle', 0, 86_400) * 1000, churnSettleMs: num('churn-settle', 0, 86_400) * 1000,
  };
  const node = { ...retransmits(), ...lookahead() };
  console.log(`options: ${JSON.stringify({ ...opts, ...node })}`);
  const report = await runLevelA({ ...opts, node, log });
  printA(report);
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine, opts, report }, null, 2));
} else if (values.level === 'c') {
  const opts = {
    ...common, procs: num('procs', 1, 64), pairRate: num('rate', 1, 100_000),
    maxSettleMs: num('settle', 0, 86_400) * 1000, churnSettleMs: num('churn-settle', 0, 86_400) * 1000,
  };
  console.log(`options: ${JSON.stringify(opts)}`);
  const report = await runLevelC({ ...opts, log });
  printC(report);
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine, opts, report }, null, 2));
} else {
  const opts = {
    ...common, adversarial: num('adversarial', 0, 0.9), latencyMs: num('latency', 0, 10_000), settleMs: num('settle', 0, 86_400) * 1000,
    ...(values['join-rate'] !== undefined ? { joinRate: num('join-rate', 1, 1_000_000) } : {}),
    ...(values.turn !== undefined ? { turn: num('turn', 0, 0.9) } : {}),
    ...(values.liars ? { liars: true } : {}),
  };
  console.log(`options: ${JSON.stringify(opts)}`);
  const limits = { ...retransmits(), ...lookahead() };
  const report = await runLevelB({ ...opts, limits, log });
  printB(report);
  if (values.json) writeFileSync(values.json, JSON.stringify({ machine, opts, report }, null, 2));
}

function printB(r: LevelBReport): void {
  console.log(`\nwall ${(r.wallMs / 1000).toFixed(1)} s for ${(r.virtualMs / 1000).toFixed(0)} virtual s (${r.events} events) · heap ${r.heapPerNodeKiB.toFixed(1)} KiB/node`);
  printPhases(r.phases);
  console.log(`frames in the delivery rounds: ${r.phases.map((p) => `${p.name}: DATA ${p.wire?.data} (${p.wire?.retransmitted} retransmitted), ACK ${p.wire?.ack}, path of the delivered copy p50/p99/max ${p.path?.p50}/${p.path?.p99}/${p.path?.max}`).join('; ')}`);
}

function printA(r: LevelAReport): void {
  console.log(`\n${r.workers} thread${r.workers > 1 ? 's' : ''} · build ${(r.buildMs / 1000).toFixed(1)} s · RSS ${r.rssPerNodeKiB.toFixed(0)} KiB/node · idle CPU ${r.idleCpuPerNodeUs.toFixed(0)} µs/node/s`);
  printPhases(r.phases);
  if (r.workers > 1) console.log(`links between threads: ${r.phases.map((p) => `${p.name} ${(p.crossThreadLinks * 100).toFixed(0)} %`).join(', ')}`);
}

function printC(r: LevelCReport): void {
  console.log(`\n${r.procs} processes · build ${(r.buildMs / 1000).toFixed(1)} s · RSS ${r.rssPerNodeKiB.toFixed(0)} KiB/node · idle CPU ${r.idleCpuPerNodeUs.toFixed(0)} µs/node/s`);
  printPhases(r.phases);
  console.log(`links between processes: ${r.phases.map((p) => `${p.name} ${(p.crossProcessLinks * 100).toFixed(0)} %`).join(', ')}`);
}

/** One table for every level; level a's phases also say how long they settled. */
function printPhases(phases: readonly (PhaseB & { settleMs?: number })[]): void {
  const settled = phases.some((p) => p.settleMs !== undefined);
  const paths = phases.some((p) => p.delivery.path !== undefined);
  console.log(`| phase | nodes |${settled ? ' settle (s) |' : ''} holes | links min/p50/max | delivered | ${paths ? 'path of the delivered copy p50/p95/p99/max | DATA transmissions incl. copies' : 'hops'} p50/p95/p99/max | undeliverable | silent |`);
  console.log(`|---|---|${settled ? '---|' : ''}${paths ? '---|' : ''}---|---|---|---|---|---|`);
  for (const p of phases) {
    const d = p.delivery;
    const rep = Object.entries(d.reported).map(([k, v]) => `${k} ${v}`).join(', ') || '-';
    const settle = p.settleMs !== undefined ? ` ${(p.settleMs / 1000).toFixed(0)} |` : '';
    console.log(`| ${p.name} | ${p.nodes} |${settle} ${p.holes.holes}/${p.holes.pairs} | ${p.links.min}/${p.links.p50}/${p.links.max} | ${(d.rate * 100).toFixed(2)} % (${d.delivered}/${d.sent}) |${d.path ? ` ${d.path.p50}/${d.path.p95}/${d.path.p99}/${d.path.max} |` : paths ? ' - |' : ''} ${d.hops.p50}/${d.hops.p95}/${d.hops.p99}/${d.hops.max} | ${rep} | ${d.silent} |`);
  }
}
