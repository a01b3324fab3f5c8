/**
 * End-to-end acknowledgement and retransmission of DATA (PROTOCOL.md §4.5),
 * against relays that drop what they should forward. The origin flags a DATA
 * message it sends through relays (not one it hands straight to the
 * destination's link) and keeps it until an ACK names its id; the destination
 * acknowledges, batched per origin. A message not acknowledged in time is sent
 * again with the same id, as 2n + 1 copies on try n, so the duplicate caches
 * along the first path send it down other links (the origin's own entry
 * excludes the first hops taken: disjoint first hops), and the destination
 * delivers it once. After `retransmits` tries
 * the origin reports it (ERR_NOT_ACKNOWLEDGED). Acks of one message always
 * carry the same id too, so a repeated ack leaves by another link as well.
 * Pure: time and timers come from the clock; frames go out through the host.
 */
import { key53 } from '../util/bytes.js';
import type { Clock } from '../util/clock.js';
import { relayError, type RelayError } from '../util/errors.js';
import { EnvelopeFlags, encodeEnvelope, envelope, MSG_ID_LENGTH, MsgType, OFF_FLAGS, OFF_MSG_ID, OFF_TO, SPREAD_SHIFT } from '../wire/envelope.js';
import { toHex } from '../util/bytes.js';

/** Ids acknowledged in one ACK frame at most (a 512-byte body). */
export const MAX_ACK_IDS = 64;
/** The destination holds acks this long (ms) to batch them, one ACK frame per origin. */
export const ACK_DELAY_MS = 10;
/** The retransmission timeout is never above this (ms), however long the measured round trip. */
const MAX_ACK_TIMEOUT_MS = 30_000;
/** A sweep this late (ms) means this node's event loop is behind: deadlines move by as much. */
const LATE_MS = 500;

/** Copies of retransmission try `n` (1-based): 2n + 1, each by a first hop the message has not taken. */
export function copiesOfTry(n: number): number { return 2 * n + 1; }

export interface AckHost {
  readonly localId: Uint8Array;
  readonly ttl: number;
  readonly clock: Clock;
  /** Tries after the first; 0 turns acknowledgements off. */
  readonly retransmits: number;
  /** The least wait for an ACK before the first retransmission (ms); longer when 3 smoothed round trips are. */
  readonly ackTimeoutMs: number;
  /** Messages held for retransmission at once; past it the oldest loses its protection. */
  readonly maxUnacked: number;
  /** Sends a retransmission (the same bytes again); false if no link is left that this message has not tried. */
  send(frame: Uint8Array): boolean;
  /** Sends an ACK frame that originates here. */
  sendAck(frame: Uint8Array): void;
  /** A flagged message was never acknowledged. */
  giveUp(msgKey: number, to: Uint8Array, err: RelayError): void;
}

interface Unacked { frame: Uint8Array; sentAt: number; deadline: number; tries: number }

export class AckTracker {
  readonly counters = { acked: 0, retransmitted: 0, notAcknowledged: 0, acksSent: 0 };
  readonly #host: AckHost;
  /** By key53 of the message id, oldest first (deadlines grow along the map, near enough). */
  readonly #unacked = new Map<number, Unacked>();
  /** Acks to send, by origin (hex). */
  readonly #acks = new Map<string, { origin: Uint8Array; ids: Uint8Array[] }>();
  #srtt = 0;
  #sweep: unknown = null;
  #sweepDue = 0;
  #flush: unknown = null;

  constructor(host: AckHost) { this.#host = host; }

  get enabled(): boolean { return this.#host.retransmits > 0; }
  get unacked(): number { return this.#unacked.size; }

  /** Flags `frame` (a DATA message about to leave through a relay) as wanting an ACK. */
  flag(frame: Uint8Array): void { frame[OFF_FLAGS] |= EnvelopeFlags.ACK_REQUESTED; }

  /** Keeps a flagged frame that left, for retransmission until it is acknowledged. */
  track(frame: Uint8Array): void {
    const now = this.#host.clock.now();
    const key = key53(frame, OFF_MSG_ID);
    if (this.#unacked.size >= this.#host.maxUnacked) {
      const oldest = this.#unacked.keys().next();
      if (!oldest.done) this.#unacked.delete(oldest.value);
    }
    this.#unacked.set(key, { frame, sentAt: now, deadline: now + this.#timeout(), tries: 0 });
    this.#arm();
  }

  /** The message is done with otherwise (an UNREACHABLE came back for it): no more tries. */
  forget(msgKey: number): void { this.#unacked.delete(msgKey); }

  /**
   * A relay on the way reported congestion toward these destinations (key53 of
   * their ids): the path is alive but full, so the messages to them wait a
   * whole timeout more before any retransmission (copies would only add to it).
   */
  postpone(destinations: Set<number>): void {
    const now = this.#host.clock.now();
    for (const u of this.#unacked.values()) {
      if (destinations.has(key53(u.frame, OFF_TO))) u.deadline = Math.max(u.deadline, now + this.#timeout() * 2 ** u.tries);
    }
  }

  /** True while `msgKey` is being retransmitted: a copy's UNREACHABLE then says nothing of the others. */
  retrying(msgKey: number): boolean { return (this.#unacked.get(msgKey)?.tries ?? 0) > 0; }

  /** An ACK frame addressed here. */
  onAck(f: Uint8Array): boolean {
    const body = envelope.body(f);
    if (body.length === 0 || body.length % MSG_ID_LENGTH !== 0 || body.length > MAX_ACK_IDS * MSG_ID_LENGTH) return false;
    const now = this.#host.clock.now();
    for (let off = 0; off < body.length; off += MSG_ID_LENGTH) {
      const key = key53(body, off);
      const u = this.#unacked.get(key);
      if (!u) continue;
      this.#unacked.delete(key);
      this.counters.acked++;
      // Karn: only a message acknowledged on its first try measures the round trip.
      if (u.tries === 0) {
        const rtt = now - u.sentAt;
        this.#srtt = this.#srtt === 0 ? rtt : 0.875 * this.#srtt + 0.125 * rtt;
      }
    }
    return true;
  }

  /** A flagged message arrived here (first time or again): acknowledge it to its origin soon. */
  ackLater(f: Uint8Array): void {
    const origin = envelope.from(f);
    const hex = toHex(origin);
    let pending = this.#acks.get(hex);
    if (!pending) this.#acks.set(hex, (pending = { origin: origin.slice(), ids: [] }));
    pending.ids.push(f.slice(OFF_MSG_ID, OFF_MSG_ID + MSG_ID_LENGTH));
    if (pending.ids.length >= MAX_ACK_IDS) { this.#acks.delete(hex); this.#sendAck(pending.origin, pending.ids); return; }
    if (this.#flush === null) {
      this.#flush = this.#host.clock.setTimeout(() => {
        this.#flush = null;
        const all = [...this.#acks.values()];
        this.#acks.clear();
        for (const p of all) this.#sendAck(p.origin, p.ids);
      }, ACK_DELAY_MS);
    }
  }

  stop(): void {
    this.#host.clock.clearTimeout(this.#sweep);
    this.#host.clock.clearTimeout(this.#flush);
    this.#sweep = this.#flush = null;
    this.#unacked.clear();
    this.#acks.clear();
  }

  /**
   * One ACK frame. Its message id is the first acknowledged id with the top
   * bit of its first byte flipped: every ack of the same message has the same
   * id, so the duplicate caches send a repeated ack down other links.
   */
  #sendAck(origin: Uint8Array, ids: Uint8Array[]): void {
    const body = new Uint8Array(ids.length * MSG_ID_LENGTH);
    ids.forEach((id, i) => body.set(id, i * MSG_ID_LENGTH));
    const f = encodeEnvelope(MsgType.ACK, origin, this.#host.localId, body, this.#host.ttl);
    f.set(ids[0], OFF_MSG_ID);
    f[OFF_MSG_ID] ^= 0x80;
    this.counters.acksSent++;
    this.#host.sendAck(f);
  }

  /**
   * ackTimeoutMs, or three smoothed round trips (plus the ack delay) when that
   * is longer, up to MAX_ACK_TIMEOUT_MS. Never shorter: a receiver that stalls
   * for a moment must not draw a burst of copies.
   */
  #timeout(): number {
    return Math.min(MAX_ACK_TIMEOUT_MS, Math.max(this.#host.ackTimeoutMs, 3 * this.#srtt + ACK_DELAY_MS));
  }

  #arm(): void {
    if (this.#sweep !== null) return;
    const first = this.#unacked.values().next();
    if (first.done) return;
    const clock = this.#host.clock;
    const wait = Math.max(0, first.value.deadline - clock.now());
    this.#sweepDue = clock.now() + wait;
    this.#sweep = clock.setTimeout(() => { this.#sweep = null; this.#onSweep(); }, wait);
  }

  #onSweep(): void {
    const host = this.#host;
    const now = host.clock.now();
    // Judged by what arrived, not by this node's lateness: a sweep that runs late
    // (the event loop behind) moves every deadline by as much instead of resending.
    const late = now - this.#sweepDue;
    if (late > LATE_MS) {
      for (const u of this.#unacked.values()) u.deadline += late;
      this.#arm();
      return;
    }
    const due: [number, Unacked][] = [];
    for (const [key, u] of this.#unacked) {
      if (u.deadline > now) break;
      due.push([key, u]);
    }
    for (const [key, u] of due) {
      this.#unacked.delete(key);
      if (u.tries >= host.retransmits) {
        this.counters.notAcknowledged++;
        const to = envelope.to(u.frame);
        host.giveUp(key, to, relayError('ERR_NOT_ACKNOWLEDGED',
          `no acknowledgement from ${toHex(to)} after ${u.tries + 1} tries; the message may or may not have arrived`, { to: toHex(to) }));
        continue;
      }
      u.tries++;
      u.frame[OFF_FLAGS] = (u.frame[OFF_FLAGS] & ~EnvelopeFlags.SPREAD) | (Math.min(u.tries, 3) << SPREAD_SHIFT);
      u.deadline = now + this.#timeout() * 2 ** u.tries;
      this.#unacked.set(key, u);
      // Try n goes out 2n + 1 times (3, then 5), each copy by another first hop: a copy's path crosses
      // about log2(N) / 3 relays, so its chance of meeting a dropper grows with the mesh, and copies
      // are what makes up for it (with 10 % droppers, at 10,000 nodes 17 of 2,000 messages lost all of
      // 1 + 2 + 3 copies, each copy dropped at a different relay; §4.5).
      for (let c = 0; c < copiesOfTry(u.tries) && host.send(u.frame); c++) this.counters.retransmitted++;
    }
    this.#arm();
  }
}
