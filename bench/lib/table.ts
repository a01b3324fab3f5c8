/** Plain-text (Markdown) tables and number formatting for benchmark output. */
import os from 'node:os';

export type Cell = string | number;

/** Formats a number with thousands separators and `digits` decimals. */
export function fmt(n: number, digits = 0): string {
  if (!Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "0.62x" for a / b; "-" when either is missing. */
export function ratio(a: number, b: number): string {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-';
  const r = a / b;
  return `${r >= 100 ? fmt(r, 0) : r >= 10 ? fmt(r, 1) : fmt(r, 2)}x`;
}

/** "12%" for a fraction 0.12. */
export function pct(x: number): string {
  return Number.isFinite(x) ? `${Math.round(x * 100)}%` : '-';
}

/**
 * Prints a table with a title; numbers are right-aligned, text left-aligned.
 * The machine line (CPU model, cores, load) follows every table, so a figure
 * copied from the output keeps the machine it was measured on.
 */
export function printTable(title: string, headers: string[], rows: Cell[][], out: (line: string) => void = console.log): void {
  if (!Array.isArray(headers) || headers.length === 0) throw new TypeError('headers must be a non-empty array');
  const text = rows.map((r) => headers.map((_, i) => (r[i] === undefined ? '' : String(r[i]))));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i].length)));
  const numeric = headers.map((_, i) => rows.every((r) => typeof r[i] === 'number' || /^[-\d.,x%<>~ µmsKMB/]+$/.test(String(r[i] ?? ''))));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ') + ' |';
  out('');
  out(`### ${title}`);
  out('');
  out(line(headers));
  out('|' + widths.map((w, i) => (numeric[i] ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|') + '|');
  for (const r of text) out(line(r));
  out('');
  out(`Machine: ${machineLine()}`);
}

/** One line naming the machine and runtime, for result tables. */
export function machineLine(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${cpus.length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.platform()} ${os.release()}, Node ${process.versions.node}, load average ${os.loadavg()[0].toFixed(1)}`;
}
