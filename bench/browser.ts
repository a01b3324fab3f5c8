/**
 * Issue 8 benchmark: a browser node's start-up to first message, and the
 * bundle's size. Each run opens a fresh page in Debian's chromium (driven by
 * playwright-core) on a local bootstrap node, then times, inside the page:
 * loading the bundle, making the node (ML-DSA + ML-KEM key generation), the
 * first link (WebSocket to the bootstrap node) and the first message sealed to
 * a Node node and echoed back (checked). The baseline, in the same run, is the
 * same start-up for a node in this Node process.
 *
 * Then ML-KEM-768 and ML-DSA-65 inside Chromium, both backends of the bundle
 * (liboqs WebAssembly, what a page uses once it has loaded, and noble, before
 * that and where a CSP refuses WebAssembly) in one page, with this Node
 * process's two backends beside them. Each backend checks the other's
 * ciphertexts and signatures before anything is timed.
 *
 *   node dist/bench/browser.js            (BENCH_BROWSER_RUNS=10 BENCH_REPEAT=3 BENCH_OP_MS=400 BENCH_BROWSER_BUILD=1)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync, brotliCompressSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { PeerRelay } from '../src/index.js';
import { kemDecapsulate, kemEncapsulate, kemKeygen, kemReady, useKemBackend } from '../src/crypto/kem.js';
import { dsaKeygen, dsaSign, dsaVerify, useDsaBackend } from '../src/crypto/dsa.js';
import { startBootstrapNode } from '../bootstrap/run-node.js';
import { createLogger } from '../bootstrap/logger.js';
import { median, p90, now } from './lib/stats.js';
import { fmt, machineLine, printTable, ratio } from './lib/table.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUNS = process.env.BENCH_BROWSER_RUNS ? Number(process.env.BENCH_BROWSER_RUNS) : 10;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Phases { load: number; create: number; link: number; first: number }

const REPEAT = process.env.BENCH_REPEAT ? Number(process.env.BENCH_REPEAT) : 3;
const OP_MS = process.env.BENCH_OP_MS ? Number(process.env.BENCH_OP_MS) : 400;
const PQ_OPS = ['ML-KEM-768 keygen', 'ML-KEM-768 encapsulate', 'ML-KEM-768 decapsulate', 'ML-DSA-65 sign (256 B)', 'ML-DSA-65 verify (256 B)'] as const;
type PqTimes = Record<'liboqs' | 'noble', number[]>; // µs per op, in PQ_OPS order

/**
 * The PQ operations of one thread, both backends: best of `repeat` runs of
 * `ms` each (µs per op). Runs in the page (as a function's source, with its
 * clock) and in Node; `c` is the bench entry (bench/browser-pq-entry.ts) or
 * the same functions in Node.
 */
function pqTimes(c: any, repeat: number, ms: number, clock: () => number): PqTimes | string {
  const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);
  const backends = ['liboqs', 'noble'] as const;
  // One wire format: each backend decapsulates the other's ciphertexts and verifies the other's signatures.
  const dsa = c.dsaKeygen(crypto.getRandomValues(new Uint8Array(32)));
  const msg = crypto.getRandomValues(new Uint8Array(256));
  const made = backends.map((b) => {
    c.useKemBackend(b); c.useDsaBackend(b);
    const k = c.kemKeygen();
    return { k, e: c.kemEncapsulate(k.publicKey), sig: c.dsaSign(msg, dsa.secretKey) };
  });
  for (const b of backends) {
    c.useKemBackend(b); c.useDsaBackend(b);
    for (const x of made) {
      if (!eq(c.kemDecapsulate(x.e.cipherText, x.k.secretKey), x.e.sharedSecret)) return `ML-KEM ${b} fails to decapsulate`;
      if (!c.dsaVerify(x.sig, msg, dsa.publicKey)) return `ML-DSA ${b} fails to verify`;
    }
    if (c.dsaVerify(made[0].sig, msg.map((v, i) => (i === 0 ? v ^ 1 : v)), dsa.publicKey)) return `ML-DSA ${b} accepts a changed message`;
  }
  const best = (fn: () => unknown) => {
    let us = Infinity;
    for (let r = 0; r < repeat; r++) {
      let n = 0;
      const t0 = clock();
      let t = t0;
      do { fn(); n++; t = clock(); } while (t - t0 < ms);
      us = Math.min(us, ((t - t0) * 1000) / n);
    }
    return us;
  };
  const out = {} as PqTimes;
  for (const b of backends) {
    c.useKemBackend(b); c.useDsaBackend(b);
    const k = c.kemKeygen();
    const e = c.kemEncapsulate(k.publicKey);
    const sig = c.dsaSign(msg, dsa.secretKey);
    out[b] = [
      best(() => c.kemKeygen()),
      best(() => c.kemEncapsulate(k.publicKey)),
      best(() => c.kemDecapsulate(e.cipherText, k.secretKey)),
      best(() => c.dsaSign(msg, dsa.secretKey)),
      best(() => c.dsaVerify(sig, msg, dsa.publicKey)),
    ];
  }
  c.useKemBackend(null); c.useDsaBackend(null);
  return out;
}

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
  // BENCH_BROWSER_BUILD=0: time dist/browser/relaymesh.js as it is (e.g. another version's bundle, for a before/after).
  if (process.env.BENCH_BROWSER_BUILD !== '0') execFileSync(process.execPath, [join(ROOT, 'scripts/build-browser.mjs'), '--quiet']);
  const pqEntry = join(ROOT, 'dist/bench/browser-pq.js');
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-browser.mjs'), '--quiet', '--entry', join(ROOT, 'bench/browser-pq-entry.ts'), '--outfile', pqEntry]);
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
  let pqBrowser: PqTimes | string = 'not run';
  let backendsLoaded: unknown = null;
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
    // PQ operations in one fresh page: the bench entry, bundled like the bundle, served beside it.
    const page = await ctx.newPage();
    await page.route(bn.httpUrl + 'pq-bench.js', (route) => route.fulfill({ contentType: 'text/javascript; charset=utf-8', body: readFileSync(pqEntry) }));
    await page.goto(bn.httpUrl + 'health');
    const inPage = await page.evaluate(async ({ src, repeat, ms }) => {
      const c = await import('/pq-bench.js' as string);
      const loaded = { kem: await c.kemReady(), dsa: c.dsaBackend() };
      if (loaded.kem !== 'liboqs' || loaded.dsa !== 'liboqs') return { loaded, times: 'liboqs did not load in the page' };
      return { loaded, times: (0, eval)(`(${src})`)(c, repeat, ms, () => performance.now()) };
    }, { src: pqTimes.toString(), repeat: REPEAT, ms: OP_MS });
    await page.close();
    pqBrowser = inPage.times;
    backendsLoaded = inPage.loaded;
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

  if (typeof pqBrowser === 'string') throw new Error(`browser bench: PQ operations in the page: ${pqBrowser} (${JSON.stringify(backendsLoaded)})`);
  if (await kemReady() !== 'liboqs') throw new Error('browser bench: liboqs did not load in Node');
  const pqNode = pqTimes({ kemKeygen, kemEncapsulate, kemDecapsulate, useKemBackend, dsaKeygen, dsaSign, dsaVerify, useDsaBackend }, REPEAT, OP_MS, now);
  if (typeof pqNode === 'string') throw new Error(`browser bench: PQ operations in Node: ${pqNode}`);
  const cell = (us: number) => (us >= 1000 ? `${fmt(us / 1000, 2)} ms` : `${fmt(us, 1)} µs`);
  const b = pqBrowser;
  printTable(`ML-KEM-768 / ML-DSA-65 in Chromium, both backends of the bundle (one page; best of ${REPEAT} x ${OP_MS} ms), Node beside`,
    ['operation', 'Chromium liboqs', 'Chromium noble', 'liboqs speed-up', 'Node liboqs', 'Node noble', 'Chromium / Node (liboqs)'],
    PQ_OPS.map((name, i) => [name, cell(b.liboqs[i]), cell(b.noble[i]), ratio(b.noble[i], b.liboqs[i]), cell(pqNode.liboqs[i]), cell(pqNode.noble[i]),
      ratio(b.liboqs[i], pqNode.liboqs[i])]));
  const hs = (t: PqTimes, k: 'liboqs' | 'noble') => 3 * (t[k][1] + t[k][2]); // a session handshake's 3 encaps + 3 decaps, one-shot
  console.log(`KEM work of one session handshake (3 encapsulations + 3 decapsulations, one-shot): Chromium liboqs ${cell(hs(b, 'liboqs'))}, `
    + `Chromium noble ${cell(hs(b, 'noble'))} (${ratio(hs(b, 'noble'), hs(b, 'liboqs'))}); Node liboqs ${cell(hs(pqNode, 'liboqs'))}. `
    + `The page reported ${JSON.stringify(backendsLoaded)} after loading.`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
