/**
 * Issue 3 benchmark: per-operation costs of relaymesh's crypto. ML-KEM-768
 * (one-shot and with a prepared public key), ML-DSA-65, AES-256-GCM seal/open
 * by size for @noble/ciphers vs Node's native OpenSSL, HKDF-SHA-256 (noble vs
 * node:crypto), and the CPU cost of a whole end-to-end handshake. Every
 * operation is checked for the right result before it is timed.
 *
 *   node dist/bench/crypto.js            (BENCH_REPEAT=3 BENCH_OP_MS=500)
 */
import { createCipheriv, createDecipheriv, getCiphers, hkdfSync, randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { nativeAead, nobleAead, type Aead } from '../src/crypto/aead.js';
import { hkdfSha256 } from '../src/crypto/hash.js';
import { Identity } from '../src/crypto/identity.js';
import { createInit, respond, complete, generateEphemeral } from '../src/crypto/session.js';
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

  // ---- ML-KEM-768 (FIPS 203)
  const kem = ml_kem768.keygen();
  const prepared = ml_kem768.prepare(kem.publicKey);
  const one = ml_kem768.encapsulate(kem.publicKey);
  const two = prepared.encapsulate();
  check(equalBytes(ml_kem768.decapsulate(one.cipherText, kem.secretKey), one.sharedSecret), 'ML-KEM one-shot decaps');
  check(equalBytes(prepared.decapsulate(two.cipherText, kem.secretKey), two.sharedSecret), 'ML-KEM prepared decaps');
  check(!equalBytes(ml_kem768.decapsulate(two.cipherText.map((b, i) => (i === 0 ? b ^ 1 : b)), kem.secretKey), two.sharedSecret), 'ML-KEM implicit rejection');

  // ---- ML-DSA-65 (FIPS 204)
  const dsa = ml_dsa65.keygen();
  const msg = randomBytes(256);
  const sig = ml_dsa65.sign(msg, dsa.secretKey);
  check(ml_dsa65.verify(sig, msg, dsa.publicKey), 'ML-DSA verify');
  check(!ml_dsa65.verify(sig, msg.map((b, i) => (i === 0 ? b ^ 1 : b)), dsa.publicKey), 'ML-DSA rejects a changed message');

  const pq: [string, () => unknown][] = [
    ['ML-KEM-768 keygen', () => ml_kem768.keygen()],
    ['ML-KEM-768 prepare(publicKey)', () => ml_kem768.prepare(kem.publicKey)],
    ['ML-KEM-768 encapsulate, one-shot', () => ml_kem768.encapsulate(kem.publicKey)],
    ['ML-KEM-768 encapsulate, prepared', () => prepared.encapsulate()],
    ['ML-KEM-768 decapsulate, one-shot', () => ml_kem768.decapsulate(one.cipherText, kem.secretKey)],
    ['ML-KEM-768 decapsulate, prepared', () => prepared.decapsulate(one.cipherText, kem.secretKey)],
    ['ML-DSA-65 keygen', () => ml_dsa65.keygen()],
    ['ML-DSA-65 sign (256 B)', () => ml_dsa65.sign(msg, dsa.secretKey)],
    ['ML-DSA-65 verify (256 B)', () => ml_dsa65.verify(sig, msg, dsa.publicKey)],
  ];
  printTable('Post-quantum primitives (@noble/post-quantum)', ['operation', 'time/op', 'ops/s', 'spread'],
    pq.map(([name, fn]) => { const m = measure(fn, repeat, ms); return [name, usCell(m.us), fmt(1e6 / m.us), pct(m.spread)]; }));

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
  const hs = measure(handshake, repeat, Math.max(ms, 500));
  const hsNoEph = measure(() => { const i = createInit(alice, bob.toPublic(), generateEphemeral()); return i; }, repeat, ms);
  printTable('Key derivation and handshake (CPU only, both sides in one thread)', ['operation', 'time/op', 'ops/s', 'vs node:crypto'], [
    ['HKDF-SHA-256, 64 B out (noble, src/crypto/hash.ts)', usCell(hk.us), fmt(1e6 / hk.us), ratio(hkNode.us, hk.us)],
    ['HKDF-SHA-256, 64 B out (node:crypto hkdfSync)', usCell(hkNode.us), fmt(1e6 / hkNode.us), '1.00x'],
    ['E2E INIT (ephemeral keygen + encaps, fresh PublicIdentity)', usCell(hsNoEph.us), fmt(1e6 / hsNoEph.us), '-'],
    ['E2E handshake: createInit + respond + complete', usCell(hs.us), fmt(1e6 / hs.us), '-'],
  ]);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((err) => { console.error(err); process.exitCode = 1; });
}
