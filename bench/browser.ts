/**
 * Issue 8 benchmark: a browser node's start-up to first message, and the
 * bundle's size. Each run opens a fresh page in Debian's chromium (driven by
 * playwright-core) on a local bootstrap node, then times, inside the page:
 * loading the bundle, making the node (ML-DSA + ML-KEM key generation), the
 * first link (WebSocket to the bootstrap node) and the first message sealed to
 * a Node node and echoed back (checked). The baseline, in the same run, is the
 * same start-up for a node in this Node process.
 *
 *   node dist/bench/browser.js            (BENCH_BROWSER_RUNS=10)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { PeerRelay } from '../src/index.js';
import { startBootstrapNode } from '../bootstrap/run-node.js';
import { createLogger } from '../bootstrap/logger.js';
import { median, p90, now } from './lib/stats.js';
import { fmt, machineLine, printTable, ratio } from './lib/table.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = process.env.BENCH_BROWSER_RUNS ? Number(process.env.BENCH_BROWSER_RUNS) : 10;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Phases { load: number; create: number; link: number; first: number }

/** A Node node's start-up, timed the same way (no bundle to load). */
async function nodeStartup(bootstrap: string, echoId: string): Promise<Phases> {
  const t0 = now();
  const node = new PeerRelay({ bootstrap: [bootstrap] });
  const t1 = now();
  await new Promise((r) => node.once('peer', r));
  const t2 = now();
  const echoed = new Promise<unknown>((r) => node.once('message', (d) => r(d)));
  node.send(echoId, { probe: 'node' });
  const got = await echoed;
  const t3 = now();
  await new Promise<void>((r) => node.destroy(() => r()));
  if ((got as { probe?: string }).probe !== 'node') throw new Error('browser bench: wrong echo to the Node node');
  return { load: 0, create: t1 - t0, link: t2 - t0, first: t3 - t0 };
}

export async function run(): Promise<void> {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-browser.mjs'), '--quiet']);
  const bundle = readFileSync(join(ROOT, 'dist/browser/relaymesh.js'));
  const sizes = JSON.parse(readFileSync(join(ROOT, 'dist/browser/size.json'), 'utf8')) as { byPackage: Record<string, number> };

  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-bench-'));
  const profile = mkdtempSync(join(tmpdir(), 'relaymesh-bench-chromium-'));
  const bn = await startBootstrapNode({ port: 0, dataDir, logger: createLogger('silent'), demo: false });
  const echo = new PeerRelay({ bootstrap: [bn.url] });
  await new Promise((r) => echo.once('peer', r));
  echo.on('message', (data, from) => echo.send(from, data));
  const ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  const browser: Phases[] = [];
  const node: Phases[] = [];
  try {
    for (let i = 0; i < RUNS + 2; i++) {
      const page = await ctx.newPage();
      await page.goto(bn.httpUrl + 'health');
      const r = await page.evaluate(async ({ url, to, i }) => {
        const t0 = performance.now();
        const m = await import(`/relaymesh.js?run=${i}`);
        const t1 = performance.now();
        const node = new m.PeerRelay({ bootstrap: [url] });
        const t2 = performance.now();
        await new Promise((r) => node.once('peer', r));
        const t3 = performance.now();
        const echoed = new Promise((r) => node.once('message', (d: unknown) => r(d)));
        node.send(to, { probe: i });
        const got = await echoed as { probe?: number };
        const t4 = performance.now();
        node.destroy();
        return { ok: got.probe === i, load: t1 - t0, create: t2 - t0, link: t3 - t0, first: t4 - t0 };
      }, { url: bn.url, to: echo.identity.idHex, i });
      await page.close();
      if (!r.ok) throw new Error('browser bench: wrong echo to the browser');
      const n = await nodeStartup(bn.url, echo.identity.idHex);
      if (i < 2) continue; // warm-up
      browser.push(r);
      node.push(n);
    }
  } finally {
    await ctx.close();
    await new Promise<void>((r) => echo.destroy(() => r()));
    await bn.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  }

  const col = (s: Phases[], k: keyof Phases) => median(s.map((x) => x[k]));
  const rows = (['load', 'create', 'link', 'first'] as const).map((k) => [
    { load: 'bundle loaded (import)', create: 'node made (keys generated)', link: 'first link (joined via bootstrap)', first: 'first message echoed (start-up to first message)' }[k],
    fmt(col(browser, k), 1), fmt(p90(browser.map((x) => x[k])), 1), k === 'load' ? '-' : fmt(col(node, k), 1), k === 'load' ? '-' : ratio(col(browser, k), col(node, k)),
  ]);
  console.log(machineLine() + `, ${execFileSync(CHROMIUM, ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()}`);
  printTable(`Browser node start-up, cumulative from page script start (median of ${RUNS} fresh pages)`,
    ['phase', 'browser median ms', 'browser p90 ms', 'Node median ms', 'browser / Node'], rows);
  const top = Object.entries(sizes.byPackage).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${fmt(v / 1024, 1)} KiB`).join(', ');
  printTable('Browser bundle dist/browser/relaymesh.js (ESM, esbuild)', ['form', 'bytes', 'KiB'], [
    ['minified', fmt(bundle.length), fmt(bundle.length / 1024, 1)],
    ['minified + gzip -9', fmt(gzipSync(bundle, { level: 9 }).length), fmt(gzipSync(bundle, { level: 9 }).length / 1024, 1)],
    ['minified + brotli', fmt(brotliCompressSync(bundle).length), fmt(brotliCompressSync(bundle).length / 1024, 1)],
  ]);
  console.log(`\nLargest parts (minified bytes): ${top}`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
