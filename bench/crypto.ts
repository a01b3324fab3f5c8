/**
 * Issue 3 benchmark: per-operation costs of relaymesh's crypto. ML-KEM-768
 * through src/crypto/kem.ts with both backends side by side (liboqs compiled
 * to WebAssembly, what Node and browser nodes use, and @noble/post-quantum, the
 * fallback and what runs before liboqs has loaded; the browser figures: bench/browser.ts; one-shot and with a prepared public key), ML-DSA-65,
 * AES-256-GCM seal/open
 * by size for @noble/ciphers vs Node's native OpenSSL, HKDF-SHA-256 (noble vs
 * node:crypto), and the CPU cost of a whole end-to-end handshake. Every
 * operation is checked for the right result before it is timed.
 *
 *   node dist/bench/crypto.js            (BENCH_REPEAT=3 BENCH_OP_MS=500)
 */
import { createCipheriv, createDecipheriv, getCiphers, hkdfSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { nativeAead, nobleAead, type Aead } from '../src/crypto/aead.js';
import { hkdfSha256 } from '../src/crypto/hash.js';
import { Identity } from '../src/crypto/identity.js';
import { createInit, respond, complete, generateEphemeral } from '../src/crypto/session.js';
import {
  kemDecapsulate, kemEncapsulate, kemKeygen, kemPrepare, kemReady, useKemBackend, type KemBackendName,
} from '../src/crypto/kem.js';
import { dsaBackend, dsaKeygen, dsaSign, dsaVerify, useDsaBackend } from '../src/crypto/dsa.js';
import { equalBytes, textEncoder } from '../src/util/bytes.js';
import { timeOp } from './lib/stats.js';
import { fmt, machineLine, pct, printTable, ratio } from './lib/table.js';

const env = (k: string, d: number) => (process.env[k] ? Number(process.env[k]) : d);

function check(cond: boolean, what: string): void {
  if (!cond) throw new Error(`crypto bench: wrong result: ${what}`);
}

/** Best µs/op over `repeat` runs, and the spread of the runs. */
function measure(fn: () => unknown, repeat: number, ms: number): { us: number; spread: number } {
  const us: number[] = [];
  for (let i = 0; i < repeat; i++) us.push(timeOp(fn, ms).usPerOp);
  const best = Math.min(...us);
  return { us: best, spread: (Math.max(...us) - best) / Math.max(...us) };
}

const usCell = (us: number) => (us >= 1000 ? `${fmt(us / 1000, 2)} ms` : `${fmt(us, us < 10 ? 2 : 1)} µs`);

export async function run(): Promise<void> {
  const repeat = env('BENCH_REPEAT', 2);
  const ms = env('BENCH_OP_MS', 300);
  console.log(`crypto bench: best of ${repeat} runs of ${ms} ms per operation; ${machineLine()}`);

  // ---- ML-KEM-768 (FIPS 203), both backends of src/crypto/kem.ts
  const nodes = await kemReady(); // liboqs loads at the first ML-KEM operation; wait for it
  const backends: KemBackendName[] = nodes === 'liboqs' ? ['liboqs', 'noble'] : ['noble'];
  const kemOps: [string, () => () => unknown][] = [];
  {
    // One wire format: each backend decapsulates what the other encapsulated (implicit rejection included).
    const made = backends.map((b) => { useKemBackend(b); const k = kemKeygen(); return { b, k, e: kemEncapsulate(k.publicKey) }; });
    for (const from of made) {
      for (const b of backends) {
        useKemBackend(b);
        check(equalBytes(kemDecapsulate(from.e.cipherText, from.k.secretKey), from.e.sharedSecret), `ML-KEM ${from.b} -> ${b} decaps`);
        const bad = from.e.cipherText.map((x, i) => (i === 0 ? x ^ 1 : x));
        check(!equalBytes(kemDecapsulate(bad, from.k.secretKey), from.e.sharedSecret), `ML-KEM ${b} implicit rejection`);
      }
    }
    useKemBackend(null);
  }
  // Per backend, the operations measured: each factory runs with that backend switched on (fixtures included).
  kemOps.push(
    ['ML-KEM-768 keygen', () => () => kemKeygen()],
    ['ML-KEM-768 prepare(publicKey) (liboqs: nothing to do)', () => { const k = kemKeygen(); return () => kemPrepare(k.publicKey); }],
    ['ML-KEM-768 encapsulate, one-shot (a fresh key)', () => { const k = kemKeygen(); return () => kemEncapsulate(k.publicKey); }],
    ['ML-KEM-768 encapsulate, prepared', () => { const p = kemPrepare(kemKeygen().publicKey); return () => p.encapsulate(); }],
    ['ML-KEM-768 decapsulate, one-shot', () => { const k = kemKeygen(); const e = kemEncapsulate(k.publicKey); return () => kemDecapsulate(e.cipherText, k.secretKey); }],
    ['ML-KEM-768 decapsulate, prepared', () => {
      const k = kemKeygen(); const p = kemPrepare(k.publicKey); const e = p.encapsulate();
      return () => p.decapsulate(e.cipherText, k.secretKey);
    }],
    ['KEM floor of one handshake: 3 one-shot encaps + 3 prepared decaps', () => {
      const keys = [kemKeygen(), kemKeygen(), kemKeygen()];
      const prepared = keys.map((k) => kemPrepare(k.publicKey));
      return () => { for (let i = 0; i < 3; i++) prepared[i].decapsulate(kemEncapsulate(keys[i].publicKey).cipherText, keys[i].secretKey); };
    }],
  );
  const kemUs = new Map<string, number>();
  const kemSpread = new Map<string, number>();
  for (const b of backends) {
    useKemBackend(b);
    for (const [name, make] of kemOps) {
      const m = measure(make(), repeat, ms);
      kemUs.set(`${b} ${name}`, m.us);
      kemSpread.set(`${b} ${name}`, m.spread);
    }
  }
  useKemBackend(null);
  printTable(`ML-KEM-768 (src/crypto/kem.ts): liboqs (WebAssembly) vs @noble/post-quantum; the nodes of this process use ${nodes}`,
    ['operation', 'liboqs', 'noble', 'liboqs speed-up', 'spread (liboqs / noble)'],
    kemOps.map(([name]) => {
      const l = kemUs.get(`liboqs ${name}`) ?? NaN;
      const n = kemUs.get(`noble ${name}`)!;
      return [name, Number.isFinite(l) ? usCell(l) : '-', usCell(n), ratio(n, l), `${pct(kemSpread.get(`liboqs ${name}`) ?? NaN)} / ${pct(kemSpread.get(`noble ${name}`)!)}`];
    }));
  console.log(`Backends: liboqs = @oqs/liboqs-js (mlkem-native compiled to WebAssembly; ${nodes === 'liboqs' ? 'loaded' : 'not loaded: RELAYMESH_PQ=noble or a load failure'}), `
    + 'noble = @noble/post-quantum (pure JS: before liboqs loads, the fallback, every seeded keygen; browsers too: bench/browser.ts). RELAYMESH_PQ=noble (or RELAYMESH_KEM=noble) makes the nodes use noble for ML-KEM and ML-DSA.');

  // ---- ML-DSA-65 (FIPS 204), both backends of src/crypto/dsa.ts (KeyGen is always noble: keys come from seeds)
  const dsa = dsaKeygen(randomBytes(32));
  const msg = randomBytes(256);
  const dsaRows: (string | number)[][] = [];
  const dsaBackends: KemBackendName[] = dsaBackend() === 'liboqs' ? ['liboqs', 'noble'] : ['noble'];
  const sigs = dsaBackends.map((b) => { useDsaBackend(b); return dsaSign(msg, dsa.secretKey); });
  for (const b of dsaBackends) {
    useDsaBackend(b);
    for (const sg of sigs) check(dsaVerify(sg, msg, dsa.publicKey), `ML-DSA ${b} verifies every backend's signature`);
    check(!dsaVerify(sigs[0], msg.map((x, i) => (i === 0 ? x ^ 1 : x)), dsa.publicKey), `ML-DSA ${b} rejects a changed message`);
  }
  const dsaUs = new Map<string, number>();
  const dsaOps: [string, () => unknown][] = [
    ['ML-DSA-65 keygen from a seed (noble in both)', () => dsaKeygen(randomBytes(32))],
    ['ML-DSA-65 sign (256 B)', () => dsaSign(msg, dsa.secretKey)],
    ['ML-DSA-65 verify (256 B)', () => dsaVerify(sigs[0], msg, dsa.publicKey)],
  ];
  for (const b of dsaBackends) {
    useDsaBackend(b);
    for (const [name, fn] of dsaOps) dsaUs.set(`${b} ${name}`, measure(fn, repeat, ms).us);
  }
  useDsaBackend(null);
  for (const [name] of dsaOps) {
    const l = dsaUs.get(`liboqs ${name}`) ?? NaN;
    const n = dsaUs.get(`noble ${name}`)!;
    dsaRows.push([name, Number.isFinite(l) ? usCell(l) : '-', usCell(n), ratio(n, l)]);
  }
  printTable(`ML-DSA-65 (src/crypto/dsa.ts): liboqs vs noble; the nodes of this process use ${dsaBackend()}`, ['operation', 'liboqs', 'noble', 'liboqs speed-up'], dsaRows);

  // ---- AES-256-GCM, noble vs native
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(56);
  const rows: (string | number)[][] = [];
  for (const size of [64, 1024, 16 * 1024, 1024 * 1024]) {
    const pt = randomBytes(size);
    const backends = [nobleAead, nativeAead].filter((a): a is Aead => a !== null);
    const sealed = backends.map((a) => a.seal(key, nonce, pt, aad));
    // One wire format: each backend opens what the other sealed.
    for (const a of backends) for (const s of sealed) check(equalBytes(a.open(key, nonce, s, aad) ?? new Uint8Array(0), pt), `${a.backend} open ${size} B`);
    for (const a of backends) check(a.open(key, nonce, sealed[0].map((b, i) => (i === 0 ? b ^ 1 : b)), aad) === null, `${a.backend} rejects a forgery`);
    const opMs = size >= 1024 * 1024 ? Math.max(ms, 400) : ms;
    const t = new Map<string, number>();
    for (const a of backends) {
      t.set(`${a.backend} seal`, measure(() => a.seal(key, nonce, pt, aad), repeat, opMs).us);
      t.set(`${a.backend} open`, measure(() => a.open(key, nonce, sealed[0], aad), repeat, opMs).us);
    }
    const mbs = (us: number) => fmt(size / us, 0);
    for (const op of ['seal', 'open']) {
      const n = t.get(`noble ${op}`)!;
      const c = t.get(`native ${op}`) ?? NaN;
      rows.push([`${op} ${size >= 1024 * 1024 ? '1 MiB' : size >= 1024 ? `${size / 1024} KiB` : `${size} B`}`, usCell(n), mbs(n), Number.isFinite(c) ? usCell(c) : '-', Number.isFinite(c) ? mbs(c) : '-', ratio(n, c)]);
    }
  }
  printTable('AES-256-GCM (src/crypto/aead.ts): noble vs native', ['operation', 'noble', 'noble MB/s', 'native', 'native MB/s', 'native speed-up'], rows);

  // ---- Sealing 1 KiB messages: what issue 17 weighed (per message: one seal + one open)
  {
    const chacha = getCiphers().includes('chacha20-poly1305');
    const sealWith = (alg: string, pt: Uint8Array): Uint8Array => {
      const c = createCipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
      c.setAAD(aad);
      const a = c.update(pt);
      c.final();
      const out = new Uint8Array(a.length + 16);
      out.set(a, 0);
      out.set(c.getAuthTag(), a.length);
      return out;
    };
    const openWith = (alg: string, sealed: Uint8Array): Uint8Array | null => {
      const d = createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
      d.setAAD(aad);
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      const out = d.update(sealed.subarray(0, sealed.length - 16));
      try { d.final(); } catch { return null; }
      return out;
    };
    const one = randomBytes(1024);
    const BATCH = 15; // 1 KiB messages in one 16 KiB batch record (maxBatchBytes)
    const batch = randomBytes(BATCH * (1024 + 4));
    const algs = ['aes-256-gcm', ...(chacha ? ['chacha20-poly1305'] : [])];
    const out: (string | number)[][] = [];
    let base = NaN;
    for (const alg of algs) {
      for (const [label, pt, n] of [['one message per call', one, 1], [`batch record of ${BATCH}`, batch, BATCH]] as const) {
        const sealed = sealWith(alg, pt);
        check(equalBytes(openWith(alg, sealed) ?? new Uint8Array(0), pt), `${alg} round trip`);
        check(openWith(alg, sealed.map((b, i) => (i === 0 ? b ^ 1 : b))) === null, `${alg} rejects a forgery`);
        const us = (measure(() => sealWith(alg, pt), repeat, ms).us + measure(() => openWith(alg, sealed), repeat, ms).us) / n;
        if (Number.isNaN(base)) base = us;
        out.push([`${alg} (node:crypto), ${label}`, usCell(us), ratio(base, us)]);
      }
    }
    printTable('Seal + open per 1 KiB message: AEAD and batching (issue 17)', ['variant', 'per message', 'vs AES-GCM one per call'], out);
  }

  // ---- HKDF-SHA-256 and the whole handshake
  const ikm = randomBytes(96);
  const salt = randomBytes(32);
  const info = 'relaymesh/e2e/v1';
  check(equalBytes(hkdfSha256(ikm, salt, info, 64), new Uint8Array(hkdfSync('sha256', ikm, salt, textEncoder.encode(info), 64))), 'HKDF matches node:crypto');
  const alice = Identity.generate();
  const bob = Identity.generate();
  const handshake = () => {
    const init = createInit(alice, bob.toPublic(), generateEphemeral());
    const r = respond(bob, alice.id, init.init)!;
    const s = complete(alice, init, r.resp)!;
    return [s, r.session] as const;
  };
  const [sa, sb] = handshake();
  const body = sa.seal(bob.id, alice.id, textEncoder.encode('hello'));
  const opened = sb.open(bob.id, alice.id, body);
  check(opened.ok && new TextDecoder().decode(opened.plaintext) === 'hello', 'handshake keys agree');
  const hk = measure(() => hkdfSha256(ikm, salt, info, 64), repeat, ms);
  const hkNode = measure(() => hkdfSync('sha256', ikm, salt, info, 64), repeat, ms);
  const hsRows: (string | number)[][] = [];
  for (const b of backends) {
    useKemBackend(b);
    const hs = measure(handshake, repeat, Math.max(ms, 500));
    const hsInit = measure(() => createInit(alice, bob.toPublic(), generateEphemeral()), repeat, ms);
    hsRows.push([`E2E INIT (ephemeral keygen + encaps, fresh PublicIdentity), ${b}`, usCell(hsInit.us), fmt(1e6 / hsInit.us), '-']);
    hsRows.push([`E2E handshake: createInit + respond + complete, ${b}`, usCell(hs.us), fmt(1e6 / hs.us), '-']);
  }
  useKemBackend(null);
  printTable('Key derivation and handshake (CPU only, both sides in one thread)', ['operation', 'time/op', 'ops/s', 'vs node:crypto'], [
    ['HKDF-SHA-256, 64 B out (src/crypto/hash.ts)', usCell(hk.us), fmt(1e6 / hk.us), ratio(hkNode.us, hk.us)],
    ['HKDF-SHA-256, 64 B out (node:crypto hkdfSync)', usCell(hkNode.us), fmt(1e6 / hkNode.us), '1.00x'],
    ...hsRows,
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
