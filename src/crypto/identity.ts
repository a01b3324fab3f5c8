/**
 * A node's identity: an ML-DSA-65 signing key pair (FIPS 204) and an ML-KEM-768
 * key pair (FIPS 203), both derived from seeds. The 160-bit id is
 * SHA-256("relaymesh/id/v1" || dsaPublicKey || kemPublicKey)[0..20], so an id is
 * self-certifying: anyone holding the public keys can check them against it.
 */
import { dsaKeygen, dsaSign, dsaVerify } from './dsa.js';
import { kemBackend, kemEncapsulate, kemKeygen, kemPrepare, type Encapsulation, type PreparedKemKey } from './kem.js';
import { equalBytes, fromBase64, fromHex, randomBytes, toBase64, toBuffer, toHex } from '../util/bytes.js';
import { label, sha256 } from './hash.js';
import { timed } from '../util/trace.js';

export const ID_LENGTH = 20;
export const DSA_SEED_LENGTH = 32;
export const KEM_SEED_LENGTH = 64;
export const DSA_PUBLIC_KEY_LENGTH = 1952;
export const KEM_PUBLIC_KEY_LENGTH = 1184;
export const KEM_CIPHERTEXT_LENGTH = 1088;
export const DSA_SIGNATURE_LENGTH = 3309;
export const PUBLIC_KEYS_LENGTH = DSA_PUBLIC_KEY_LENGTH + KEM_PUBLIC_KEY_LENGTH;

export interface IdentityJSON {
  type: 'relaymesh-identity';
  version: 1;
  id: string;
  dsaSeed: string;
  kemSeed: string;
}

/** The public half of an identity, checked against its id. */
export class PublicIdentity {
  readonly id: Uint8Array;
  readonly dsaPublicKey: Uint8Array;
  readonly kemPublicKey: Uint8Array;
  /** The id as hex, computed once (ids are Map keys everywhere). */
  readonly idHex: string;
  #prepared: PreparedKemKey | null = null;
  #spare: Encapsulation | null = null;

  constructor(dsaPublicKey: Uint8Array, kemPublicKey: Uint8Array, id?: Uint8Array, idHex?: string) {
    if (dsaPublicKey.length !== DSA_PUBLIC_KEY_LENGTH) throw new RangeError('dsaPublicKey must be 1952 bytes');
    if (kemPublicKey.length !== KEM_PUBLIC_KEY_LENGTH) throw new RangeError('kemPublicKey must be 1184 bytes');
    this.dsaPublicKey = dsaPublicKey;
    this.kemPublicKey = kemPublicKey;
    this.id = id ?? deriveId(dsaPublicKey, kemPublicKey);
    this.idHex = idHex ?? toHex(this.id);
  }

  /**
   * Parses dsaPk || kemPk and returns null unless they hash to `expectedId`.
   * The keys of one identity are held once per process (see `interned` below):
   * bytes equal to keys already checked against `expectedId` give that same
   * object, with no copy and no hash.
   */
  static fromKeys(keys: Uint8Array, expectedId?: Uint8Array): PublicIdentity | null {
    if (keys.length !== PUBLIC_KEYS_LENGTH) return null;
    if (expectedId) {
      const held = lookUp(toHex(expectedId), keys);
      if (held) return held;
    }
    // One copy (the caller's bytes are often a view into a larger frame), two views into it.
    const copy = keys.slice();
    const dsa = copy.subarray(0, DSA_PUBLIC_KEY_LENGTH);
    const kem = copy.subarray(DSA_PUBLIC_KEY_LENGTH);
    const id = timed('id check (SHA-256 of the keys)', () => deriveId(dsa, kem));
    if (expectedId && !equalBytes(id, expectedId)) return null;
    const hex = toHex(id);
    return (expectedId ? null : lookUp(hex, keys)) ?? intern(new PublicIdentity(dsa, kem, id, hex));
  }

  /** dsaPk || kemPk, the form carried on the wire. */
  publicKeys(): Uint8Array {
    const out = new Uint8Array(PUBLIC_KEYS_LENGTH);
    out.set(this.dsaPublicKey, 0);
    out.set(this.kemPublicKey, DSA_PUBLIC_KEY_LENGTH);
    return out;
  }

  /**
   * ML-KEM.Encaps (FIPS 203 §7.2) to this identity's KEM key: with the expanded
   * key if `precompute()` made one, else one-shot (a link handshake encapsulates
   * once; keeping the 6 KiB expansion for every neighbour is not worth it).
   */
  encapsulate(): Encapsulation {
    const prepared = this.#prepared;
    return prepared ? timed('ML-KEM encaps, static key (expanded)', () => prepared.encapsulate())
      : timed('ML-KEM encaps, static key (one-shot)', () => kemEncapsulate(this.kemPublicKey));
  }

  /**
   * An encapsulation for a session handshake: the one made ahead of time by
   * `precompute()` if there is one (then forgotten: each is used exactly once),
   * else a fresh one.
   */
  takeEncapsulation(): Encapsulation {
    const spare = this.#spare;
    this.#spare = null;
    return spare ?? this.encapsulate();
  }

  /**
   * Makes one encapsulation ahead of time, off a handshake's critical path. The
   * key's expansion is not kept: 1 KiB held per neighbour, not 7.
   */
  precompute(): void {
    this.#spare ??= this.encapsulate();
  }

  /**
   * The KEM public key prepared once (noble: FIPS 203 matrix Â expanded, so later
   * operations are cheaper; liboqs: nothing to expand).
   */
  prepared(): PreparedKemKey {
    // noble expands Â here (a step of its own in traces); liboqs has nothing to expand.
    this.#prepared ??= kemBackend() === 'noble' ? timed('ML-KEM key expansion (prepare)', () => kemPrepare(this.kemPublicKey))
      : kemPrepare(this.kemPublicKey);
    return this.#prepared;
  }

  /** ML-DSA.Verify (FIPS 204 §5.3); false for any malformed input. */
  verify(signature: Uint8Array, message: Uint8Array): boolean {
    try {
      return timed('ML-DSA verify', () => dsaVerify(signature, message, this.dsaPublicKey));
    } catch {
      return false;
    }
  }
}

/**
 * Public identities received (and checked against their ids) in this process,
 * by id hex, held weakly: the keys of one identity are held once however many
 * holders in the process (nodes, links, session layers) have them, and an entry
 * goes when its last holder lets go. A process hosting one node gains little;
 * one hosting many (the simulator, a test, a server with several nodes) holds
 * each neighbour's 3,136 bytes of keys once instead of once per node. The
 * holders share what a PublicIdentity carries besides its keys: its prepared
 * key and its one encapsulation made ahead (each still used exactly once).
 * Nothing here decides what a node keeps: each holder's own policy does.
 */
const interned = new Map<string, WeakRef<PublicIdentity>>();
const unused = new FinalizationRegistry<string>((hex) => {
  if (interned.get(hex)?.deref() === undefined) interned.delete(hex);
});

/** The interned identity with id `hex`, if its keys are byte for byte `keys` (dsa || kem). */
function lookUp(hex: string, keys: Uint8Array): PublicIdentity | null {
  const held = interned.get(hex)?.deref();
  if (!held) return null;
  return equalBytes(held.dsaPublicKey, keys.subarray(0, DSA_PUBLIC_KEY_LENGTH))
    && equalBytes(held.kemPublicKey, keys.subarray(DSA_PUBLIC_KEY_LENGTH)) ? held : null;
}

function intern(p: PublicIdentity): PublicIdentity {
  if (interned.get(p.idHex)?.deref() === undefined) {
    interned.set(p.idHex, new WeakRef(p));
    unused.register(p, p.idHex);
  }
  return p;
}

/** How many public identities this process holds interned now (tests). */
export function internedIdentities(): number {
  let live = 0;
  for (const ref of interned.values()) if (ref.deref()) live++;
  return live;
}

/** An id given as 20 bytes or 40 hex characters, as bytes; TypeError naming `name` otherwise. */
export function parseId(id: Uint8Array | string, name: string): Uint8Array {
  if (typeof id === 'string') {
    if (!/^[0-9a-fA-F]{40}$/.test(id)) throw new TypeError(`${name} must be a 20-byte Buffer or 40 hex characters`);
    return fromHex(id);
  }
  if (!(id instanceof Uint8Array) || id.length !== ID_LENGTH) throw new TypeError(`${name} must be a 20-byte Buffer or 40 hex characters`);
  return id;
}

export function deriveId(dsaPublicKey: Uint8Array, kemPublicKey: Uint8Array): Uint8Array {
  return sha256(label('id'), dsaPublicKey, kemPublicKey).slice(0, ID_LENGTH);
}

/** A full identity, holding secret keys. */
export class Identity extends PublicIdentity {
  readonly #dsaSeed: Uint8Array;
  readonly #kemSeed: Uint8Array;
  readonly #dsaSecretKey: Uint8Array;
  readonly #kemSecretKey: Uint8Array;

  constructor(dsaSeed: Uint8Array, kemSeed: Uint8Array) {
    if (!(dsaSeed instanceof Uint8Array) || dsaSeed.length !== DSA_SEED_LENGTH) throw new RangeError('dsaSeed must be 32 bytes');
    if (!(kemSeed instanceof Uint8Array) || kemSeed.length !== KEM_SEED_LENGTH) throw new RangeError('kemSeed must be 64 bytes');
    const dsa = dsaKeygen(dsaSeed);
    const kem = kemKeygen(kemSeed);
    super(dsa.publicKey, kem.publicKey);
    this.#dsaSeed = dsaSeed.slice();
    this.#kemSeed = kemSeed.slice();
    this.#dsaSecretKey = dsa.secretKey;
    this.#kemSecretKey = kem.secretKey;
  }

  static generate(): Identity {
    return new Identity(randomBytes(DSA_SEED_LENGTH), randomBytes(KEM_SEED_LENGTH));
  }

  static fromJSON(json: IdentityJSON | string): Identity {
    const o = (typeof json === 'string' ? JSON.parse(json) : json) as IdentityJSON;
    if (!o || o.type !== 'relaymesh-identity' || o.version !== 1) throw new TypeError('not a relaymesh identity (version 1)');
    const identity = new Identity(fromBase64(o.dsaSeed), fromBase64(o.kemSeed));
    if (o.id && o.id !== identity.idHex) throw new TypeError('identity file is corrupt: its id does not match its keys');
    return identity;
  }

  toJSON(): IdentityJSON {
    return { type: 'relaymesh-identity', version: 1, id: this.idHex, dsaSeed: toBase64(this.#dsaSeed), kemSeed: toBase64(this.#kemSeed) };
  }

  /** The public half only, safe to hand out. */
  toPublic(): PublicIdentity {
    return new PublicIdentity(this.dsaPublicKey, this.kemPublicKey, this.id);
  }

  /** ML-KEM.Decaps (FIPS 203 §7.3) with this identity's secret key. Throws on malformed input. */
  decapsulate(cipherText: Uint8Array): Uint8Array {
    // The prepared form of the own key skips re-expanding Â on every decapsulation.
    const prepared = this.prepared();
    return timed('ML-KEM decaps, own static key', () => prepared.decapsulate(cipherText, this.#kemSecretKey));
  }

  /** ML-DSA.Sign (FIPS 204 §5.2), hedged (randomized). */
  sign(message: Uint8Array): Uint8Array {
    return timed('ML-DSA sign', () => dsaSign(message, this.#dsaSecretKey));
  }

  /** The id as a Buffer in Node (the peer-relay API's type). */
  idBuffer(): Uint8Array { return toBuffer(this.id.slice()); }
}

/** The raw ML-KEM-768 key pair the IM protocol's `ml-kem-aes` envelope uses. */
export function generateKemKeyPair(seed?: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return kemKeygen(seed);
}
