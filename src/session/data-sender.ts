/**
 * The data path of established sessions: seals and routes DATA, gathers the
 * messages for one destination sent in one event-loop turn into a batch
 * record (PROTOCOL.md §5.2), and remembers the DATA ids it sent so an
 * UNREACHABLE or CONGESTION report can be mapped back to its messages.
 * SessionManager owns the sessions and the handshakes; this owns what is sent on them.
 */
import { toHex, key53 } from '../util/bytes.js';
import { Session, DATA_OVERHEAD } from '../crypto/session.js';
import { BoundedMap } from '../util/bounded-map.js';
import { allocEnvelope, CongestionKind, HEADER_LENGTH, MsgType, OFF_MSG_ID } from '../wire/envelope.js';
import { BatchWriter } from './batch.js';
import { relayError, type RelayError } from '../util/errors.js';
import { trace } from '../util/trace.js';
import type { RouteResult } from '../routing/router.js';

/**
 * DATA message ids remembered (with their destination) to map an UNREACHABLE
 * or a CONGESTION report back to its message: enough for the messages of a
 * blast still in flight, ~5 MB at most.
 */
const SENT_DATA_ENTRIES = 65_536;
const EMPTY = new Uint8Array(0);
/** Idle batch buffers kept for reuse. */
const SPARE_WRITERS = 8;

export interface DataSenderOptions {
  /** This node's id (the `from` of every DATA). */
  id: Uint8Array;
  ttl: number;
  /** Plaintext bytes of one batch record. */
  maxBatchBytes: number;
  /** Sends a routed frame that originates here. */
  route: (frame: Uint8Array) => RouteResult;
  /** `count` messages to `to` could not be sent. */
  fail: (to: Uint8Array, err: RelayError, count: number) => void;
  /** The session this node would now use for `hex` (a batch is sealed only on the one it was gathered for). */
  current: (hex: string) => Session | undefined;
  /** Sends one message the ordinary way (its batch's session ended within the turn). */
  resend: (to: Uint8Array, channel: number, payload: Uint8Array) => void;
  destroyed: () => boolean;
}

/** Messages for one destination sent after the first in this event-loop turn, sealed together at its end. */
interface Batch {
  to: Uint8Array | null; session: Session; writer: BatchWriter | null;
  /** Messages to this destination in this turn (sent at once or gathered). */
  n: number;
}

export class DataSender {
  readonly #o: DataSenderOptions;
  /**
   * Ids (key53) of DATA messages sent: how many messages each carries (a batch record: several) and key53
   * of its `to` (a congestion report must name both). Tells data from handshakes.
   */
  readonly #sentData = new BoundedMap<number, { n: number; to: number }>(SENT_DATA_ENTRIES);
  /** Destinations sent to in this event-loop turn; their later messages wait here for the turn's end. */
  readonly #batches = new Map<string, Batch>();
  /** Destinations that had two or more messages in the last turn that sent any: their first waits too. */
  readonly #hot = new Set<string>();
  #flushQueued = false;
  readonly #spareWriters: BatchWriter[] = [];
  /** `[channel byte, payload]` of a message sealed alone (#sendData). */
  readonly #parts: Uint8Array[] = [new Uint8Array(1), EMPTY];

  constructor(o: DataSenderOptions) { this.#o = o; }

  /**
   * The routed message `msgKey` came back undeliverable: true (and its
   * messages reported failed) if it was DATA this node sent.
   */
  unreachable(msgKey: number, to: Uint8Array, err: RelayError): boolean {
    const sent = this.#sentData.get(msgKey);
    if (sent === undefined) return false;
    this.#sentData.delete(msgKey);
    this.#o.fail(to, err, sent.n);
    return true;
  }

  /**
   * `to` says it had no session for DATA message `msgKey` (SESSION_UNKNOWN naming it): true if this
   * node sent that message to `to`, which is then reported undeliverable (ERR_SESSION_LOST).
   */
  lost(msgKey: number, to: Uint8Array): boolean {
    const sent = this.#sentData.get(msgKey);
    if (sent === undefined || sent.to !== key53(to)) return false;
    this.#sentData.delete(msgKey);
    this.#o.fail(to, relayError('ERR_SESSION_LOST', `${toHex(to)} had no session for the message; it was not delivered`, { to: toHex(to) }), sent.n);
    return true;
  }

  /**
   * A congestion report names message `msgKey` to `to`: true if this node sent
   * that DATA message to that destination (a report naming anything else is
   * not acted on). A DROPPED message is reported undeliverable (ERR_CONGESTED).
   */
  congestion(kind: number, msgKey: number, to: Uint8Array): boolean {
    const sent = this.#sentData.get(msgKey);
    if (sent === undefined || sent.to !== key53(to)) return false;
    if (kind === CongestionKind.DROPPED) {
      this.#sentData.delete(msgKey);
      this.#o.fail(to, relayError('ERR_CONGESTED', `a queue toward ${toHex(to)} was full; the message was dropped`, { to: toHex(to) }), sent.n);
    }
    return true;
  }

  /** Seals what every open batch gathered now (the node is being destroyed: they are reported). */
  flushAll(): void {
    for (const [hex, b] of this.#batches) this.#flushBatch(hex, b);
    this.#batches.clear();
  }

  /**
   * Sends on an established session. The first message to a destination in an
   * event-loop turn goes at once, as one DATA; the ones after it in the same
   * turn (to a peer that opens batch records) are gathered and sealed together
   * as one record at the turn's end (a microtask), one AEAD call for them all.
   * A lone message thus costs one seal and no wait. Under load (the turn
   * before had two or more for this destination) the first is gathered too,
   * so a busy turn costs one seal, not two.
   */
  send(hex: string, to: Uint8Array, session: Session, channel: number, payload: Uint8Array): void {
    if (!session.peerBatches) { this.#sendData(to, session, channel, payload); return; }
    let b = this.#batches.get(hex);
    // A batch gathered on another session is sealed first, out of the map: sealing it may send its
    // messages again (its session ended, resend), and what they gather anew is kept, not thrown away.
    while (b && b.session !== session) {
      this.#batches.delete(hex);
      this.#flushBatch(hex, b);
      b = this.#batches.get(hex);
    }
    if (!b) {
      if (!this.#hot.has(hex)) {
        // Only after a first message that went: one the route refused was reported now, and so is the next.
        if (this.#sendData(to, session, channel, payload)) {
          this.#batches.set(hex, { to: null, session, writer: null, n: 1 });
          this.#scheduleFlush();
        }
        return;
      }
      // Under load (this destination had several messages in the turn before), the first waits for the turn's end too.
      b = { to: null, session, writer: null, n: 0 };
      this.#batches.set(hex, b);
      this.#scheduleFlush();
    }
    if (b.writer && !b.writer.fits(payload.length)) {
      this.#flushBatch(hex, b);
      if (this.#batches.get(hex) !== b) {
        // Sealing found its session ended and sent its messages the ordinary way: this one follows them.
        try { this.#o.resend(to, channel, payload); } catch (err) { this.#o.fail(to, err as RelayError, 1); }
        return;
      }
    }
    if (!b.writer) {
      const w = this.#spareWriters.pop() ?? new BatchWriter(this.#o.maxBatchBytes);
      if (!w.fits(payload.length)) { this.#spareWriters.push(w); this.#sendData(to, session, channel, payload); b.n++; return; }
      b.writer = w;
      b.to ??= to.slice();
    }
    b.writer.add(channel, payload);
    b.n++;
  }

  #scheduleFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => {
      this.#flushQueued = false;
      this.#hot.clear();
      // Each batch leaves the map before it is sealed: sealing may send again (its session ended) and
      // gather a new batch for the same destination, which this loop reaches and seals too.
      for (const [hex, b] of this.#batches) {
        this.#batches.delete(hex);
        if (b.n >= 2) this.#hot.add(hex);
        this.#flushBatch(hex, b);
      }
    });
  }

  /** Seals and sends what `b` gathered: one message as plain DATA, more as one batch record. */
  #flushBatch(hex: string, b: Batch): void {
    const w = b.writer;
    const to = b.to;
    if (!w || !to) return;
    b.writer = null;
    try {
      if (this.#o.destroyed()) { this.#o.fail(to, relayError('ERR_DESTROYED', 'the node was destroyed before the message was sent'), w.count); return; }
      if (this.#o.current(hex) !== b.session || b.session.exhausted) {
        // The session ended within the turn: each message takes the ordinary way (a new handshake).
        for (const [channel, payload] of w.entries()) {
          try { this.#o.resend(to, channel, payload); } catch (err) { this.#o.fail(to, err as RelayError, 1); }
        }
        return;
      }
      if (w.count === 1) this.#routeData(to, b.session, [w.single()], 1);
      else this.#routeData(to, b.session, [w.record()], w.count);
    } finally {
      w.reset();
      if (w.capacity === this.#o.maxBatchBytes && this.#spareWriters.length < SPARE_WRITERS) this.#spareWriters.push(w);
    }
  }

  /**
   * Builds the whole DATA frame in one allocation and seals straight into it. The plaintext's
   * parts (channel byte, payload) are this sender's own scratch: sealing reads them at once.
   */
  #sendData(to: Uint8Array, session: Session, channel: number, payload: Uint8Array): boolean {
    const parts = this.#parts;
    parts[0][0] = channel;
    parts[1] = payload;
    try {
      return this.#routeData(to, session, parts, 1);
    } finally {
      parts[1] = EMPTY; // the caller's payload is not held
    }
  }

  /** Seals `parts` (the plaintext) as one DATA frame carrying `count` messages and routes it; false if refused (and reported). */
  #routeData(to: Uint8Array, session: Session, parts: Uint8Array[], count: number): boolean {
    let length = 0;
    for (const p of parts) length += p.length;
    const frame = allocEnvelope(MsgType.DATA, to, this.#o.id, DATA_OVERHEAD + length, this.#o.ttl);
    session.sealPartsInto(frame, HEADER_LENGTH, parts);
    const key = key53(frame, OFF_MSG_ID);
    this.#sentData.set(key, { n: count, to: key53(to) });
    trace('DATA sent', this.#o.id);
    const result = this.#o.route(frame);
    if (result === 'sent') return true;
    this.#sentData.delete(key);
    this.#o.fail(to, result === 'congested'
      ? relayError('ERR_QUEUE_FULL', `the link toward ${toHex(to)} is congested`, { to: toHex(to) })
      : relayError('ERR_NO_ROUTE', 'the node has no links', { to: toHex(to) }), count);
    return false;
  }
}
