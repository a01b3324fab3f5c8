/**
 * relaymesh in a real browser: Debian's chromium driven by playwright-core
 * (never a downloaded browser), a bootstrap node, and a Node node, all on
 * loopback. Pages load the bundle the bootstrap node serves at /relaymesh.js.
 * WebRTC stays on loopback: pages get fake media permission (so Chromium
 * gathers loopback candidates) and ignore any remote candidate that is not
 * 127.0.0.1 or ::1; the Node side does the same (helpers/webrtc-loopback).
 * Serial: a browser is heavy.
 *
 * The browser is looked for before anything starts. Where it is missing, each
 * test is skipped with the one reason (what is missing, how to install it); in
 * CI (CI set) that is a failure instead, at once. Every test registers its
 * teardown before its first await and has a time limit, so a failure never
 * leaves the file hanging on an open node or browser.
 */
import test from 'tape';
import type { Test } from 'tape';
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startBootstrapNode, type BootstrapNode } from '../bootstrap/run-node.js';
import { createLogger } from '../bootstrap/logger.js';
import { FAST, nextMessage, startNode, waitFor } from './helpers/testnet.js';
import { loopbackWrtc } from './helpers/webrtc-loopback.js';
import { generateKeyPair, MessagingPeer, type PeerRelay } from '../src/index.js';
import { kemReady, useKemBackend } from '../src/crypto/kem.js';
import { dsaBackend, useDsaBackend } from '../src/crypto/dsa.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Each browser test's limit; the slowest takes about 10 s. */
const TEST_TIMEOUT_MS = 90_000;
const IN_CI = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';

/** Why the browser tests cannot run here, or null when Chromium is there. */
function missingBrowser(): string | null {
  try {
    accessSync(CHROMIUM, constants.X_OK);
    return null;
  } catch {
    return `no Chromium at ${CHROMIUM}${process.env.CHROMIUM_PATH ? ' (from CHROMIUM_PATH)' : ''}: `
      + 'install it (`apt-get install chromium`) or set CHROMIUM_PATH to a Chromium binary';
  }
}
const MISSING = missingBrowser();
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
  // WebRTC on loopback: fake media permission makes Chromium gather every interface, loopback included.
  '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', '--allow-loopback-in-peer-connection',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
];

/** A page policy that lets scripts run and reach ws: but not compile WebAssembly (no 'wasm-unsafe-eval'). */
const NO_WASM_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; connect-src 'self' ws:";

/** Runs in every page before its scripts: remote ICE candidates other than loopback are ignored. */
const LOOPBACK_ONLY = `(() => {
  const LOOP = / (127\\.0\\.0\\.1|::1) \\d+ typ host/;
  const Base = window.RTCPeerConnection;
  if (!Base) return;
  const filterSdp = (sdp) => sdp.split('\\r\\n').filter((l) => !l.startsWith('a=candidate:') || LOOP.test(l)).join('\\r\\n');
  window.RTCPeerConnection = class extends Base {
    addIceCandidate(c, ...rest) { return c && c.candidate && !LOOP.test(c.candidate) ? Promise.resolve() : super.addIceCandidate(c, ...rest); }
    setRemoteDescription(d, ...rest) { return super.setRemoteDescription(d && d.sdp ? { type: d.type, sdp: filterSdp(d.sdp) } : d, ...rest); }
  };
  // about:blank and other insecure pages have no mediaDevices; pages on 127.0.0.1 do.
  window.__mediaGranted = navigator.mediaDevices
    ? navigator.mediaDevices.getUserMedia({ audio: true }).then((s) => s.getTracks().forEach((t) => t.stop()), () => {})
    : Promise.resolve();
})();`;

if (MISSING && IN_CI) {
  test('Chromium is installed (CI)', (t) => { t.fail(MISSING); t.end(); });
} else if (!MISSING) {
  execFileSync(process.execPath, [join(ROOT, 'scripts/build-browser.mjs'), '--quiet'], { stdio: 'inherit' });
}

/** A browser test: skipped with the reason where Chromium is missing, not registered in CI (it failed above). */
function browserTest(name: string, fn: (t: Test) => Promise<void>): void {
  if (!MISSING) test(name, { timeout: TEST_TIMEOUT_MS }, fn);
  else if (!IN_CI) test(name, (t) => { t.skip(MISSING); t.end(); });
}

/** Runs a teardown step; a failed one is reported and the next still runs (tape stops at a rejected teardown). */
async function step(t: Test, what: string, fn: () => unknown): Promise<void> {
  try { await fn(); } catch (err) { t.fail(`teardown: ${what}: ${(err as Error).message}`); }
}

async function setup(t: Test): Promise<{ bn: BootstrapNode; ctx: BrowserContext; errors: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'relaymesh-bn-'));
  const profile = mkdtempSync(join(tmpdir(), 'relaymesh-chromium-'));
  let bn: BootstrapNode | undefined;
  let ctx: BrowserContext | undefined;
  // Before the first await: whatever was made before a failure is closed.
  t.teardown(async () => {
    await step(t, 'close the browser', () => ctx?.close());
    await step(t, 'close the bootstrap node', () => bn?.close());
    rmSync(profile, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  bn = await startBootstrapNode({ port: 0, dataDir, logger: createLogger('silent'), limits: { ...FAST } as never });
  ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  await ctx.addInitScript(LOOPBACK_ONLY);
  const errors: string[] = [];
  ctx.on('page', (p) => p.on('pageerror', (e) => errors.push(e.message)));
  return { bn, ctx, errors };
}

type Backends = { kem: string; dsa: string };

/**
 * Opens a page on the bootstrap node, starts a mesh node in it (window.node), resolves to its id once linked.
 * `pqFirst`: the page waits for the post-quantum backend to load before it makes the node, so every ML-KEM
 * and ML-DSA operation of the node runs on it; `pq` is what the bundle reported then. `origin`: where the page
 * and the bundle come from (default: the bootstrap node's HTTP server). `failWasm`: the page's
 * WebAssembly.instantiate rejects (a load failure), and relaymesh:crypto debug output is on.
 */
async function browserNode(ctx: BrowserContext, bn: BootstrapNode, opts: { pqFirst?: boolean; origin?: string; failWasm?: boolean } = {}):
Promise<{ page: Page; id: string; pq: Backends | null }> {
  const page = await ctx.newPage();
  await page.goto(opts.origin ?? bn.httpUrl + 'health');
  const { id, pq } = await page.evaluate(async ({ url, pqFirst, failWasm }) => {
    await (window as any).__mediaGranted;
    if (failWasm) {
      localStorage.debug = 'relaymesh:crypto';
      WebAssembly.instantiate = (() => Promise.reject(new Error('instantiate refused by the test'))) as never;
    }
    const m = await import('/relaymesh.js' as string);
    const pq = pqFirst ? await m.pqReady() : null;
    const node = new m.PeerRelay({ bootstrap: [url], wrtc: true, pingIntervalMs: 500, linkTimeoutMs: 4000 });
    const w = window as any;
    w.m = m;
    w.node = node;
    w.inbox = [];
    node.on('message', (data: unknown, from: Uint8Array) => w.inbox.push({
      data: data instanceof Uint8Array ? { bytes: [...data] } : data, from: m.toHex(from), fromIsBytes: from instanceof Uint8Array && from.length === 20,
    }));
    await new Promise((resolve) => node.once('peer', resolve));
    return { id: node.identity.idHex as string, pq };
  }, { url: bn.url, pqFirst: opts.pqFirst ?? false, failWasm: opts.failWasm ?? false });
  return { page, id, pq };
}

async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}

const inbox = (page: Page) => page.evaluate(() => (window as any).inbox as { data: any; from: string; fromIsBytes: boolean }[]);

browserTest('a browser node on liboqs WebAssembly joins through a bootstrap node and exchanges sealed messages with a Node node', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  t.equal(await kemReady(), 'liboqs', 'the Node side runs liboqs');
  const n = await startNode(t, { bootstrap: [bn.url], ...FAST });
  const a = await browserNode(ctx, bn, { pqFirst: true });
  t.deepEqual(a.pq, { kem: 'liboqs', dsa: 'liboqs' }, 'the bundle reports liboqs for ML-KEM and ML-DSA once loaded');
  t.ok(bn.node.peers.some((p) => Buffer.from(p).toString('hex') === a.id), 'the bootstrap node has a link to the browser');
  const types = await a.page.evaluate(() => ({ id: (window as any).node.id.constructor.name, len: (window as any).node.id.length, buffer: typeof (globalThis as any).Buffer }));
  t.deepEqual(types, { id: 'Uint8Array', len: 20, buffer: 'undefined' }, 'in the browser an id is a 20-byte Uint8Array and no Buffer global exists');
  n.send(a.id, { hello: 'browser', n: [1, 2, 3] });
  t.ok(await until(async () => (await inbox(a.page)).length > 0, 15_000), 'the browser receives the message');
  const [got] = await inbox(a.page);
  t.deepEqual(got, { data: { hello: 'browser', n: [1, 2, 3] }, from: n.identity.idHex, fromIsBytes: true }, 'the JSON value, from the Node node');
  const reply = nextMessage(n);
  await a.page.evaluate((to) => (window as any).node.send(to, new Uint8Array([0, 1, 2, 255])), n.identity.idHex);
  const { data, from } = await reply;
  t.ok(Buffer.isBuffer(data) && Buffer.from([0, 1, 2, 255]).equals(data as Buffer), 'bytes from the browser arrive as the same bytes');
  t.equal(Buffer.from(from).toString('hex'), a.id, 'from the browser');
  t.deepEqual(await a.page.evaluate(() => (window as any).m.pqBackends()), { kem: 'liboqs', dsa: 'liboqs' }, 'still liboqs after the exchange');
  t.deepEqual(errors, [], 'no page errors');
});

/**
 * Sealed mesh messages both ways between browser node `a` and Node node `n` (ML-KEM: link and session
 * handshakes), then MessagingPeer both ways between a page on the same bundle and a Node MessagingPeer
 * (ML-DSA: the registration the Node signaling server verifies, and each side's signed envelope INIT).
 */
async function exchangeBothWays(t: Test, bn: BootstrapNode, a: { page: Page; id: string; pq: Backends | null }, n: PeerRelay, label: string,
  origin?: string): Promise<void> {
  n.send(a.id, { to: 'browser', label });
  t.ok(await until(async () => (await inbox(a.page)).length > 0, 15_000), `${label}: the browser node receives a sealed message`);
  t.deepEqual((await inbox(a.page))[0]?.data, { to: 'browser', label }, `${label}: intact, from the Node node`);
  const reply = nextMessage(n);
  await a.page.evaluate((to) => (window as any).node.send(to, { to: 'node' }), n.identity.idHex);
  t.deepEqual((await reply).data, { to: 'node' }, `${label}: the Node node receives the browser's sealed reply`);

  const keys = generateKeyPair();
  const nodePeer = new MessagingPeer({ serverUrl: bn.url, clientId: 'node-side', publicKey: keys.publicKey, secretKey: keys.secretKey });
  t.teardown(() => nodePeer.disconnect());
  const nodeInbox: { message: unknown; fromId: string; authenticated: boolean }[] = [];
  nodePeer.onMessage((message, fromId, info) => nodeInbox.push({ message, fromId, authenticated: info.authenticated }));
  await nodePeer.connect();
  const page = await messagingPage(a.page.context(), bn, 'browser-side', { pqFirst: true, origin });
  t.deepEqual(await page.evaluate(() => (window as any).pq), a.pq, `${label}: the MessagingPeer page runs the same backend as the node's`);
  await page.evaluate(() => (window as any).peer.sendMessage('node-side', 'from the browser'));
  t.ok(await waitFor(() => nodeInbox.length > 0, 15_000), `${label}: the Node MessagingPeer gets the browser's message`);
  t.deepEqual(nodeInbox[0], { message: 'from the browser', fromId: 'browser-side', authenticated: true }, `${label}: authenticated (browser signs, Node verifies)`);
  await nodePeer.sendMessage('browser-side', 'from node');
  t.ok(await until(async () => (await page.evaluate(() => (window as any).im.length)) > 0), `${label}: the browser MessagingPeer gets the Node's message`);
  t.deepEqual(await page.evaluate(() => (window as any).im[0]), { message: 'from node', fromId: 'node-side', authenticated: true },
    `${label}: authenticated (Node signs, browser verifies)`);
  await page.evaluate(() => (window as any).peer.disconnect());
}

browserTest('a browser on liboqs and a Node node on noble interoperate: mesh messages and MessagingPeer both ways', async (t) => {
  // The whole test process (bootstrap node included) runs noble; the browser runs liboqs.
  useKemBackend('noble');
  useDsaBackend('noble');
  t.teardown(() => { useKemBackend(null); useDsaBackend(null); });
  const { bn, ctx, errors } = await setup(t);
  const n = await startNode(t, { bootstrap: [bn.url], ...FAST });
  const a = await browserNode(ctx, bn, { pqFirst: true });
  t.deepEqual(a.pq, { kem: 'liboqs', dsa: 'liboqs' }, 'the browser runs liboqs');
  t.equal(dsaBackend(), 'noble', 'the Node side runs noble');
  await exchangeBothWays(t, bn, a, n, 'browser liboqs, Node noble');
  t.deepEqual(await a.page.evaluate(() => (window as any).m.pqBackends()), { kem: 'liboqs', dsa: 'liboqs' }, 'the browser stayed on liboqs');
  t.deepEqual(errors, [], 'no page errors');
});

browserTest('under a CSP without wasm-unsafe-eval a browser stays on noble, with no page error, and interoperates with a Node node on liboqs', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  t.equal(await kemReady(), 'liboqs', 'the Node side runs liboqs');
  // A loopback HTTP server whose pages may run scripts (the bundle, from it) but not compile WebAssembly.
  const site = createServer((req, res) => {
    if (req.url === '/relaymesh.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' }).end(readFileSync(join(ROOT, 'dist/browser/relaymesh.js')));
    } else {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': NO_WASM_CSP }).end('<!doctype html><title>no wasm</title>');
    }
  });
  t.teardown(() => new Promise<void>((r) => site.close(() => r())));
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
  const n = await startNode(t, { bootstrap: [bn.url], ...FAST });
  const a = await browserNode(ctx, bn, { pqFirst: true, origin });
  t.deepEqual(a.pq, { kem: 'noble', dsa: 'noble' }, 'loading is over and the page stays on noble');
  t.equal(await a.page.evaluate(() => typeof WebAssembly.Module), 'function', 'the page has WebAssembly: only the CSP refuses it');
  await exchangeBothWays(t, bn, a, n, 'browser noble (CSP), Node liboqs', origin);
  t.deepEqual(errors, [], 'no page errors');
});

browserTest('a browser whose liboqs load fails stays on noble, says so in a debug line, and still messages a Node node', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  const debugLines: string[] = [];
  ctx.on('page', (p) => p.on('console', (msg) => { if (msg.type() === 'debug') debugLines.push(msg.text()); }));
  const n = await startNode(t, { bootstrap: [bn.url], ...FAST });
  const a = await browserNode(ctx, bn, { pqFirst: true, failWasm: true });
  t.deepEqual(a.pq, { kem: 'noble', dsa: 'noble' }, 'loading is over (failed) and the page runs noble');
  t.ok(debugLines.some((l) => l.includes('liboqs ML-KEM-768 did not load')) && debugLines.some((l) => l.includes('liboqs ML-DSA-65 did not load')),
    'a relaymesh:crypto debug line for each module says it did not load');
  n.send(a.id, { after: 'failed load' });
  t.ok(await until(async () => (await inbox(a.page)).length > 0, 15_000), 'the browser receives a sealed message');
  const reply = nextMessage(n);
  await a.page.evaluate((to) => (window as any).node.send(to, { ok: true }), n.identity.idHex);
  t.deepEqual((await reply).data, { ok: true }, 'and its sealed reply arrives');
  t.deepEqual(errors, [], 'no page errors');
});

async function webrtcLink(page: Page, to: string): Promise<{ kind: string; framesIn: number; bytesIn: number } | null> {
  return page.evaluate((id) => {
    const l = (window as any).node.linkInfo().find((x: { id: string }) => x.id === id);
    return l ? { kind: l.kind, framesIn: l.stats.framesIn, bytesIn: l.stats.bytesIn } : null;
  }, to);
}

browserTest('two browsers form a WebRTC link through the mesh and message over it, not relayed', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  const a = await browserNode(ctx, bn);
  const b = await browserNode(ctx, bn);
  await a.page.evaluate((id) => (window as any).node.connect(id), b.id);
  t.equal((await webrtcLink(a.page, b.id))?.kind, 'webrtc', 'A has a webrtc link to B');
  t.ok(await until(async () => (await webrtcLink(b.page, a.id))?.kind === 'webrtc', 10_000), 'B has a webrtc link to A');
  const start = (await webrtcLink(b.page, a.id))!;
  const before = { relayed: bn.node.stats().relayed, framesIn: start.framesIn, bytesIn: start.bytesIn };
  await a.page.evaluate((id) => { for (let i = 0; i < 20; i++) (window as any).node.send(id, { i }); }, b.id);
  t.ok(await until(async () => (await inbox(b.page)).length === 20, 15_000), 'B receives all 20 messages');
  t.deepEqual((await inbox(b.page)).map((m) => m.data.i), [...Array(20).keys()], 'in order, from A');
  t.equal(bn.node.stats().relayed, before.relayed, 'the bootstrap node relayed none of them');
  // Messages sent in one turn may share one sealed batch record (PROTOCOL §5.2), so count bytes, not frames.
  const after = (await webrtcLink(b.page, a.id))!;
  const plain = [...Array(20).keys()].reduce((n, i) => n + JSON.stringify({ i }).length, 0);
  t.ok(after.framesIn > before.framesIn && after.bytesIn - before.bytesIn >= plain,
    `B's WebRTC link carried them (${after.framesIn - before.framesIn} frames, ${after.bytesIn - before.bytesIn} bytes in; ${plain} bytes of JSON sent)`);
  t.deepEqual(errors, [], 'no page errors');
});

browserTest('a browser forms a WebRTC link with a Node node', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  const n = await startNode(t, { bootstrap: [bn.url], ...FAST, wrtc: loopbackWrtc() });
  const a = await browserNode(ctx, bn);
  await a.page.evaluate((id) => (window as any).node.connect(id), n.identity.idHex);
  t.equal((await webrtcLink(a.page, n.identity.idHex))?.kind, 'webrtc', 'the browser has a webrtc link to the Node node');
  t.ok(await waitFor(() => n.linkInfo().some((l) => l.id === a.id && l.kind === 'webrtc')), 'and the Node node to the browser');
  const relayed = bn.node.stats().relayed;
  const got = nextMessage(n as PeerRelay);
  await a.page.evaluate((id) => (window as any).node.send(id, { over: 'webrtc' }), n.identity.idHex);
  t.deepEqual((await got).data, { over: 'webrtc' }, 'the Node node receives the message');
  t.equal(bn.node.stats().relayed, relayed, 'not relayed by the bootstrap node');
  t.deepEqual(errors, [], 'no page errors');
});

browserTest('the demo chat works by clicking and typing, and the status page shows the right counts', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  const n = await startNode(t, { bootstrap: [bn.url], ...FAST, targetLinks: 1 });
  t.ok(await waitFor(() => n.peers.length === 1), 'a Node node links to the bootstrap node');
  const pages: Page[] = [];
  for (const name of ['alice', 'bob']) {
    const page = await ctx.newPage();
    await page.goto(bn.httpUrl + 'demo');
    await page.waitForFunction(() => (window as any).relaymeshDemo?.node.peers.length > 0, null, { timeout: 15_000 });
    await page.click('#name');
    await page.keyboard.type(name);
    await page.click('#join');
    pages.push(page);
  }
  const [alice, bob] = pages;
  await alice.waitForFunction(() => document.querySelectorAll('#members li').length === 2, null, { timeout: 15_000 });
  t.pass('alice sees two members');
  await alice.click('#text');
  await alice.keyboard.type('hello from alice');
  await alice.keyboard.press('Enter');
  await bob.waitForFunction(() => document.getElementById('log')!.textContent!.includes('alice: hello from alice'), null, { timeout: 15_000 });
  t.pass('bob reads alice\'s line');
  await bob.fill('#text', 'hi alice');
  await bob.click('#send');
  await alice.waitForFunction(() => document.getElementById('log')!.textContent!.includes('bob: hi alice'), null, { timeout: 15_000 });
  t.pass('alice reads bob\'s line');
  // The demo's CSP allows 'wasm-unsafe-eval': its node (the same module instance) runs liboqs.
  t.deepEqual(await alice.evaluate(async () => (await import('/relaymesh.js' as string)).pqReady()), { kem: 'liboqs', dsa: 'liboqs' },
    'the demo page runs liboqs (its CSP allows WebAssembly)');

  const status = await ctx.newPage();
  await status.setViewportSize({ width: 1100, height: 800 });
  await status.goto(bn.httpUrl);
  const links = bn.node.peers.length;
  t.ok(links >= 3, `the bootstrap node has ${links} links (two browsers and the Node node)`);
  await status.waitForFunction((want) => document.getElementById('links-count')!.textContent === String(want)
    && document.querySelectorAll('#links tr.link').length === want, links, { timeout: 10_000 });
  t.pass('the status page counts the same links and lists each');
  t.equal(await status.textContent('#node-id'), bn.id, 'it names the node');
  t.equal(await status.textContent('#delivered'), String(bn.node.stats().delivered), 'messages delivered match the node');
  await status.waitForTimeout(2500); // two polls, so the chart has points
  const dir = join(ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  await status.screenshot({ path: join(dir, 'status-page.png'), fullPage: true });
  t.ok(statSync(join(dir, 'status-page.png')).size > 10_000, 'a screenshot of the status page is saved in test-artifacts/');
  t.deepEqual(errors, [], 'no page errors');
});

/**
 * Opens a page whose MessagingPeer (window.peer) is registered with the bootstrap node's signaling server.
 * `pqFirst` and `origin` as for browserNode (window.pq: what the bundle reported before the peer was made).
 */
async function messagingPage(ctx: BrowserContext, bn: BootstrapNode, clientId: string, opts: { pqFirst?: boolean; origin?: string } = {}): Promise<Page> {
  const page = await ctx.newPage();
  await page.goto(opts.origin ?? bn.httpUrl + 'health');
  await page.evaluate(async ({ url, clientId, pqFirst }) => {
    const m = await import('/relaymesh.js' as string);
    const w = window as any;
    w.pq = pqFirst ? await m.pqReady() : null;
    const keys = m.generateKeyPair();
    const peer = new m.MessagingPeer({ serverUrl: url, clientId, publicKey: keys.publicKey, secretKey: keys.secretKey });
    w.peer = peer;
    w.im = [];
    peer.onMessage((message: unknown, fromId: string, info: { authenticated: boolean }) => w.im.push({ message, fromId, authenticated: info.authenticated }));
    await peer.connect();
  }, { url: bn.url, clientId, pqFirst: opts.pqFirst ?? false });
  return page;
}

browserTest('browser pages talk through MessagingPeer on the bootstrap node\'s signaling server', async (t) => {
  const { bn, ctx, errors } = await setup(t);
  const alice = await messagingPage(ctx, bn, 'alice');
  const bob = await messagingPage(ctx, bn, 'bob');
  t.equal(bn.snapshot().signaling.clients, 2, 'the bootstrap node counts two signaling clients');
  const peers = await alice.evaluate(() => (window as any).peer.discoverPeers());
  t.deepEqual(peers, ['bob'], 'alice discovers bob (the server leaves out the asker)');
  await alice.evaluate(() => (window as any).peer.sendMessage('bob', 'hello bob, sealed'));
  t.ok(await until(async () => (await bob.evaluate(() => (window as any).im.length)) > 0), 'bob gets a message');
  t.deepEqual(await bob.evaluate(() => (window as any).im[0]), { message: 'hello bob, sealed', fromId: 'alice', authenticated: true },
    'the text, from alice, authenticated end to end');
  // The session is up: more messages of one turn go as one binary batch record (relaymesh-bin-v1), read as an ArrayBuffer.
  await alice.evaluate(() => { for (const m of ['two', 'three', 'four']) void (window as any).peer.sendMessage('bob', m); });
  t.ok(await until(async () => (await bob.evaluate(() => (window as any).im.length)) >= 4), 'bob gets three more');
  t.deepEqual(await bob.evaluate(() => (window as any).im.slice(1).map((m: any) => m.message)), ['two', 'three', 'four'],
    'binary records in the browser: in order, intact');
  const closed = bob.evaluate(() => new Promise((resolve) => {
    (window as any).peer.onConnectionStateChange((s: string) => { if (s !== 'connected') resolve(s); });
  }));
  await bn.close();
  t.ok(['disconnected', 'reconnecting'].includes(String(await closed)), 'bob is told when the node shuts down');
  await bob.evaluate(() => (window as any).peer.disconnect());
  await alice.evaluate(() => (window as any).peer.disconnect());
  t.deepEqual(errors, [], 'no page errors');
});
