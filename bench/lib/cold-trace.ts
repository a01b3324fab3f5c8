/**
 * The breakdown of a cold first message (bench/session.ts): installs the
 * session layer's trace hook (src/util/trace.ts) around one send, names each
 * step by the node it ran on, and aggregates many runs into medians: when each
 * step happened (ms after send()) and how long each timed crypto operation
 * took. A crypto operation runs on the node of the step before it (one thread).
 */
import { setTraceHook } from '../../src/util/trace.js';
import { median } from './stats.js';
import { fmt } from './table.js';

export interface TraceEvent { label: string; at: number; ms: number | undefined }

/** Records the steps from now until stop(); `names` maps a node id (hex) to its name in the table. */
export function startTrace(names: Map<string, string>): { stop(): TraceEvent[] } {
  const events: TraceEvent[] = [];
  const t0 = performance.now();
  let node = '?';
  const seen = new Map<string, number>();
  setTraceHook((step, id, ms) => {
    const t = performance.now();
    if (id) node = names.get(Buffer.from(id).toString('hex')) ?? '?';
    let label = `${node}${ms === undefined ? '' : '  '} ${step}`;
    const n = (seen.get(label) ?? 0) + 1;
    seen.set(label, n);
    if (n > 1) label += ` #${n}`;
    events.push({ label, at: t - t0 - (ms ?? 0), ms });
  });
  return { stop: () => { setTraceHook(null); return events; } };
}

const isKem = (e: TraceEvent): boolean => e.label.includes('ML-KEM');
const isDsa = (e: TraceEvent): boolean => e.label.includes('ML-DSA');
const isHash = (e: TraceEvent): boolean => e.ms !== undefined && !isKem(e) && !isDsa(e);

/** One run's totals: KEM, ML-DSA and hashing time inside the window, and the rest (framing, ws, event loop, JS). */
export function totals(events: TraceEvent[], total: number): { kem: number; dsa: number; hash: number; rest: number } {
  const sum = (f: (e: TraceEvent) => boolean): number => events.filter(f).reduce((s, e) => s + (e.ms ?? 0), 0);
  const kem = sum(isKem);
  const dsa = sum(isDsa);
  const hash = sum(isHash);
  return { kem, dsa, hash, rest: total - kem - dsa - hash };
}

/** Rows (step, median at, median takes, runs it occurred in) in the order of their median time. */
export function breakdownRows(runs: TraceEvent[][], totalsMs: number[]): (string | number)[][] {
  const at = new Map<string, number[]>();
  const took = new Map<string, number[]>();
  for (const run of runs) {
    for (const e of run) {
      (at.get(e.label) ?? at.set(e.label, []).get(e.label)!).push(e.at);
      if (e.ms !== undefined) (took.get(e.label) ?? took.set(e.label, []).get(e.label)!).push(e.ms);
    }
  }
  const rows = [...at.entries()].map(([label, a]) => ({ label, at: median(a), took: took.get(label), n: a.length }));
  rows.sort((x, y) => x.at - y.at);
  const out: (string | number)[][] = rows.map((r) => [r.label, fmt(r.at, 2), r.took ? fmt(median(r.took), 3) : '', `${r.n}/${runs.length}`]);
  out.push(["C 'message' emitted (the measured time)", fmt(median(totalsMs), 2), '', `${runs.length}/${runs.length}`]);
  return out;
}
