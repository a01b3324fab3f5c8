/**
 * The link handshake (PROTOCOL.md §3.2), the part of a Link before it opens:
 *
 *   both ends: HELLO  (version, flags, nonce, id, public keys, advertised url)
 *   on HELLO:  check id = H(keys); CHALLENGE = Encaps(remote kemPk) -> ssOut
 *   on CHALLENGE: ssIn = Decaps(ct); PROOF = HMAC(ssIn, label | th | ownId)
 *   on PROOF:  check HMAC(ssOut, label | th | remoteId); open once own PROOF is sent
 *   th = SHA-256(HELLO of lower id | HELLO of higher id), so proofs bind both nonces.
 *
 * The Link (link.ts) owns the connection and the state; it hands this class
 * the handshake's frames and is told through `HandshakeHost` what came of
 * them. The KEM steps run through the process's CPU queue (cpu-queue.ts).
 */
import debugFactory from 'debug';
import { equalBytes, randomBytes, toHex } from '../util/bytes.js';
import { Identity, PublicIdentity } from '../crypto/identity.js';
import { linkProofMac, linkTranscript } from '../crypto/link-proof.js';
import {
  CloseReason, type CloseReasonCode, FrameType, PROTOCOL_VERSION, decodeChallenge, decodeHello, decodeProof,
  encodeChallenge, encodeHello, encodeProof, NONCE_LENGTH, type Hello,
} from '../wire/frames.js';
import { relayError, type RelayError } from '../util/errors.js';
import type { CountDrop } from '../util/drop-reasons.js';
import { cpuQueue, CpuPriority } from '../util/cpu-queue.js';

const debug = debugFactory('relaymesh:link');
/** How often a late handshake timer gives the remote this node's own lateness back. */
const MAX_HANDSHAKE_EXTENSIONS = 3;
/** A link that closes this soon after it opened (ms) is counted as closed early (its KEM work was spent for little). */
export const EARLY_CLOSE_MS = 30_000;

/** What the link handshakes of this thread came to, since it started (the simulator prints them). */
export interface HandshakeCounts {
  /** Handshakes started (a Link made: both ends count theirs). */
  started: number;
  /** Closed on the remote's HELLO before any KEM work (beforeKem: a duplicate). */
  refused: number;
  opened: number;
  /** Closed at their time limit. */
  timedOut: number;
  /** Closed during the handshake otherwise (the remote closed, the transport went, a bad frame). */
  failed: number;
  /** ML-KEM operations run: Encaps on HELLO, Decaps on CHALLENGE. */
  encaps: number;
  decaps: number;
  /** Of those, run by handshakes that never opened. */
  kemLost: number;
  /** Open links closed within EARLY_CLOSE_MS of opening, by close reason (null: the transport went). */
  closedEarly: Record<string, number>;
}

/**
 * Link handshakes in progress in this process, every node together: discovery
 * starts no dial while there are `busyHandshakes` (limits.ts), as each costs
 * four ML-KEM operations of this process's CPU.
 */
export const linkHandshakes = {
  inProgress: 0,
  /** Dials started whose connection is not up yet (their handshake is counted from then on). */
  dialing: 0,
  /** Both: what discovery weighs against `busyHandshakes`. */
  get load(): number { return this.inProgress + this.dialing; },
  counts: {
    started: 0, refused: 0, opened: 0, timedOut: 0, failed: 0, encaps: 0, decaps: 0, kemLost: 0, closedEarly: {},
  } as HandshakeCounts,
};

const CLOSE_NAMES = new Map(Object.entries(CloseReason).map(([k, v]) => [v as number, k]));

/** An open link closed: counted as early if it lived less than EARLY_CLOSE_MS. */
export function countLinkClosed(openedAt: number, reason: CloseReasonCode | null): void {
  if (openedAt === 0 || Date.now() - openedAt >= EARLY_CLOSE_MS) return;
  const name = reason === null ? 'transport' : CLOSE_NAMES.get(reason) ?? String(reason);
  const early = linkHandshakes.counts.closedEarly;
  early[name] = (early[name] ?? 0) + 1;
}

/** What the handshake needs of its link. */
export interface HandshakeHost {
  /** The link is still in its handshake (not open, not closed). */
  readonly inHandshake: boolean;
  send(frame: Uint8Array): void;
  close(reason: CloseReasonCode, err: RelayError): void;
  /**
   * The remote's HELLO checked out (its id matches its keys): the link takes
   * them. False: the link is redundant and is closed as a DUPLICATE before any
   * KEM work.
   */
  identified(remote: PublicIdentity, hello: Hello): boolean;
  /** Both proofs are done: the remote's checked, this node's sent. */
  proven(): void;
}

export interface HandshakeOptions {
  identity: Identity;
  flags: number;
  url: string;
  /** When dialing a known node: refuse any other id. */
  expectedId?: Uint8Array;
  handshakeTimeoutMs: number;
  countDrop: CountDrop;
}

export class LinkHandshake {
  readonly #host: HandshakeHost;
  readonly #o: HandshakeOptions;
  /** This node's HELLO, kept only until the transcript hash is made. */
  #hello: Uint8Array | null;
  /** th = SHA-256 over both HELLOs (lower id first), once the remote's has arrived. */
  #th: Uint8Array | null = null;
  #remoteId: Uint8Array | null = null;
  #ssOut: Uint8Array | null = null;
  #helloSeen = false;
  #challengeSeen = false;
  #proofSent = false;
  #remoteProven = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  /** KEM jobs of this handshake waiting in this process's CPU queue. */
  #kemWaiting = 0;
  /** Time those jobs waited there (ms): this node's own lateness, given back to the remote. */
  #kemWaited = 0;
  /** KEM operations this handshake ran (counted as lost if it never opens). */
  #kemRun = 0;
  /** Time the handshake limit may still be moved while this process's CPU queue is busy (ms). */
  #busyCredit: number;
  #ended = false;
  #timedOut = false;
  /** Closed on the remote's HELLO as redundant (beforeKem). */
  #refused = false;

  /** Starts the handshake: counts it and sends this node's HELLO. */
  constructor(host: HandshakeHost, o: HandshakeOptions) {
    this.#host = host;
    this.#o = o;
    this.#hello = encodeHello({
      version: PROTOCOL_VERSION, flags: o.flags, nonce: randomBytes(NONCE_LENGTH), id: o.identity.id,
      publicKeys: [o.identity.dsaPublicKey, o.identity.kemPublicKey], url: o.url,
    });
    linkHandshakes.inProgress++;
    linkHandshakes.counts.started++;
    this.#busyCredit = 3 * o.handshakeTimeoutMs;
    this.#armTimer(o.handshakeTimeoutMs, MAX_HANDSHAKE_EXTENSIONS);
    host.send(this.#hello);
  }

  /** A HELLO, CHALLENGE or PROOF frame from the remote. */
  onFrame(f: Uint8Array): void {
    switch (f[0]) {
      case FrameType.HELLO: return this.#onHello(f);
      case FrameType.CHALLENGE: return this.#onChallenge(f);
      case FrameType.PROOF: return this.#onProof(f);
    }
  }

  /** The link opened or closed: stops the timer, wipes the secret, counts the outcome. Idempotent. */
  end(opened: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    linkHandshakes.inProgress--;
    const c = linkHandshakes.counts;
    if (opened) c.opened++;
    else {
      c.kemLost += this.#kemRun;
      if (this.#timedOut) c.timedOut++;
      else if (this.#refused) c.refused++;
      else c.failed++;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#ssOut?.fill(0);
    this.#ssOut = null;
  }

  /**
   * The handshake's time limit, judged like liveness: if the timer fires late
   * (this node was overloaded, e.g. by many handshakes at once), the remote gets
   * that time back (at most `extensions` times), and the verdict waits until the
   * input queued meanwhile has been read. An overload then slows link set-up
   * down instead of failing it, which would only make more work.
   */
  #armTimer(ms: number, extensions: number): void {
    const due = Date.now() + ms;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#host.inHandshake) return;
      // Own KEM work that waited in this process's CPU queue is this node's lateness, not the
      // remote's: the limit moves by as much. So does time while other handshake work is queued
      // there (the remote's answer may wait behind it, when the remote shares the process), up to
      // three limits in all.
      // While a step of ours still waits there the verdict waits too: the delay is ours alone.
      if (this.#kemWaiting > 0) return this.#armTimer(Math.max(250, ms / 4), extensions);
      const waited = this.#kemWaited;
      this.#kemWaited = 0;
      if (waited > 50) return this.#armTimer(waited, extensions);
      if (cpuQueue.urgent > 0 && this.#busyCredit > 0) {
        const more = Math.min(this.#busyCredit, Math.max(250, ms / 4));
        this.#busyCredit -= more;
        return this.#armTimer(more, extensions);
      }
      const late = Date.now() - due;
      if (late > ms / 4 && extensions > 0) return this.#armTimer(late, extensions - 1);
      setImmediate(() => {
        if (!this.#host.inHandshake) return;
        this.#timedOut = true;
        this.#host.close(CloseReason.PROTOCOL_ERROR, relayError('ERR_TIMEOUT', 'link handshake timed out'));
      });
    }, ms);
  }

  #onHello(f: Uint8Array): void {
    if (this.#helloSeen) return this.#fail('duplicate HELLO');
    const h = decodeHello(f);
    if (!h) return this.#fail('malformed HELLO');
    this.#helloSeen = true;
    if (h.version !== PROTOCOL_VERSION) {
      this.#o.countDrop('bad_version');
      return this.#host.close(CloseReason.BAD_VERSION, relayError('ERR_BAD_VERSION', `remote speaks version ${h.version}, this node ${PROTOCOL_VERSION}`));
    }
    const remote = PublicIdentity.fromKeys(h.publicKeys, h.id);
    if (!remote) {
      this.#o.countDrop('auth_failed');
      return this.#host.close(CloseReason.AUTH_FAILED, relayError('ERR_BAD_KEYS', 'HELLO keys do not hash to the claimed id'));
    }
    if (equalBytes(remote.id, this.#o.identity.id)) {
      return this.#host.close(CloseReason.SELF, relayError('ERR_CONNECT_FAILED', 'connected to itself'));
    }
    if (this.#o.expectedId && !equalBytes(remote.id, this.#o.expectedId)) {
      this.#o.countDrop('auth_failed');
      return this.#host.close(CloseReason.AUTH_FAILED, relayError('ERR_AUTH_FAILED', `expected ${toHex(this.#o.expectedId)}, got ${remote.idHex}`));
    }
    this.#remoteId = remote.id;
    this.#th = linkTranscript(this.#o.identity.id, this.#hello!, remote.id, f);
    this.#hello = null;
    if (!this.#host.identified(remote, h)) {
      // Redundant before any KEM work was spent on it.
      this.#refused = true;
      return this.#host.close(CloseReason.DUPLICATE, relayError('ERR_DUPLICATE_LINK', `another link to ${remote.idHex} is kept`));
    }
    this.#kem(() => {
      const { cipherText, sharedSecret } = remote.encapsulate();
      linkHandshakes.counts.encaps++;
      this.#ssOut = sharedSecret;
      this.#host.send(encodeChallenge(cipherText));
    });
  }

  /** Runs a KEM step of the handshake through the process's CPU queue (at once when it is idle). */
  #kem(step: () => void): void {
    const queuedAt = performance.now();
    this.#kemWaiting++;
    cpuQueue.run(CpuPriority.LINK, () => {
      this.#kemWaiting--;
      this.#kemWaited += performance.now() - queuedAt;
      if (!this.#host.inHandshake) return;
      this.#kemRun++;
      try {
        step();
      } catch (err) {
        this.#o.countDrop('handler_error');
        debug('handshake step failed: %s', (err as Error).message);
        this.#host.close(CloseReason.PROTOCOL_ERROR, relayError('ERR_MALFORMED_FRAME', 'handshake step failed'));
      }
    });
  }

  #onChallenge(f: Uint8Array): void {
    if (!this.#remoteId || this.#challengeSeen) return this.#fail('CHALLENGE out of order');
    const ct = decodeChallenge(f);
    if (!ct) return this.#fail('malformed CHALLENGE');
    this.#challengeSeen = true;
    const copy = ct.slice(); // the frame's buffer may be reused while the step waits
    this.#kem(() => {
      let ssIn: Uint8Array;
      try {
        ssIn = this.#o.identity.decapsulate(copy);
      } catch {
        return this.#fail('undecodable CHALLENGE');
      }
      linkHandshakes.counts.decaps++;
      const mac = linkProofMac(ssIn, this.#th!, this.#o.identity.id);
      ssIn.fill(0);
      this.#host.send(encodeProof(mac));
      this.#proofSent = true;
      this.#maybeProven();
    });
  }

  #onProof(f: Uint8Array): void {
    if (!this.#remoteId || !this.#ssOut || this.#remoteProven) return this.#fail('PROOF out of order');
    const mac = decodeProof(f);
    if (!mac) return this.#fail('malformed PROOF');
    const expected = linkProofMac(this.#ssOut, this.#th!, this.#remoteId);
    this.#ssOut.fill(0);
    this.#ssOut = null;
    if (!equalBytes(mac, expected)) {
      this.#o.countDrop('auth_failed');
      return this.#host.close(CloseReason.AUTH_FAILED, relayError('ERR_AUTH_FAILED', `${toHex(this.#remoteId)} could not prove its id`));
    }
    this.#remoteProven = true;
    this.#maybeProven();
  }

  #maybeProven(): void {
    if (!this.#proofSent || !this.#remoteProven || !this.#host.inHandshake) return;
    this.#host.proven();
  }

  #fail(what: string): void {
    this.#o.countDrop('malformed');
    this.#host.close(CloseReason.PROTOCOL_ERROR, relayError('ERR_MALFORMED_FRAME', what));
  }
}
