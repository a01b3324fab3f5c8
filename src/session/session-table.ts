/**
 * The end-to-end sessions of one node: by local sid (what DATA names) and the
 * current one per remote node (what sends use). At most two per remote (the
 * current and the one before it, for a simultaneous handshake or data still
 * in flight) and at most `max` in all, the oldest ended first.
 */
import { equalBytes, key53 } from '../util/bytes.js';
import type { Session } from '../crypto/session.js';

export class SessionTable {
  readonly #max: number;
  readonly #bySid = new Map<number, Session>();
  readonly #current = new Map<string, Session>();

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number { return this.#bySid.size; }

  /** The session DATA with this sid (key53 of its first bytes) is for. */
  bySid(sidKey: number): Session | undefined { return this.#bySid.get(sidKey); }

  /** The session sends to node `hex` use. */
  current(hex: string): Session | undefined { return this.#current.get(hex); }

  /** Data arrived on `s`: it becomes current if its node has none. */
  used(s: Session): void {
    const hex = s.remote.idHex;
    if (!this.#current.has(hex)) this.#current.set(hex, s);
  }

  /** A new session becomes its node's current one; older ones of that node but the previous end. */
  add(session: Session): void {
    const hex = session.remote.idHex;
    this.#bySid.set(key53(session.localSid), session);
    const prev = this.#current.get(hex);
    this.#current.set(hex, session);
    for (const s of this.#bySid.values()) {
      if (s !== session && s !== prev && equalBytes(s.remote.id, session.remote.id)) this.drop(s);
    }
    // Not a BoundedMap: evicting means destroying a session, and dropping a whole
    // generation would end up to max/2 live sessions at once, each to be set up
    // again (three ML-KEM operations). One eviction per new session costs far
    // less than the handshake that made it.
    while (this.#bySid.size > this.#max) {
      this.drop(this.#bySid.values().next().value as Session);
    }
  }

  /** Ends `s`. */
  drop(s: Session): void {
    this.#bySid.delete(key53(s.localSid));
    const hex = s.remote.idHex;
    if (this.#current.get(hex) === s) this.#current.delete(hex);
    s.destroy();
  }

  /** Ends the sessions unused for `idleMs`. */
  expire(now: number, idleMs: number): void {
    for (const s of [...this.#bySid.values()]) if (now - s.lastUsed > idleMs) this.drop(s);
  }

  /** Ends every session. */
  clear(): void {
    for (const s of this.#bySid.values()) s.destroy();
    this.#bySid.clear();
    this.#current.clear();
  }
}
