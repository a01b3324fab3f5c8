/**
 * One ephemeral key pair for the next handshake, made ahead of time so no
 * handshake waits for it. Each pair is used once. The first is made soon after
 * the node gets its first link (`prime`): a node without links starts no
 * session, so it does no KEM work for one. The next is made only once the
 * handshake that used one is over (`refillLater`), some milliseconds after,
 * so the key generation never runs while a handshake is on its critical path
 * (with the three nodes of a relay in one process, any work there would).
 */
import { generateEphemeral, type EphemeralKeyPair } from '../crypto/session.js';

/** How long after a handshake ends the next spare pair is made (ms). */
export const REFILL_DELAY_MS = 25;
/** A pair is made this long after one was taken even if no end was reported (ms). */
export const REFILL_FALLBACK_MS = 1000;

export class SpareEphemeral {
  #spare: EphemeralKeyPair | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  /** When the timer fires (performance.now() ms). */
  #due = 0;

  get ready(): boolean { return this.#spare !== null; }

  /** The spare pair (or a new one if none is ready); the caller says when its handshake ended (`done`). */
  take(): EphemeralKeyPair {
    const e = this.#spare ?? generateEphemeral();
    this.#spare = null;
    this.#schedule(REFILL_FALLBACK_MS, true);
    return e;
  }

  /** A handshake ended (completed or given up): the next pair is made a little later. */
  done(): void { this.#schedule(REFILL_DELAY_MS, false); }

  /** Makes a pair soon if there is none (the node got a link). */
  prime(): void { this.#schedule(0, false); }

  /** Arms the timer `ms` from now; `later`: also when it is armed sooner (a handshake just started). */
  #schedule(ms: number, later: boolean): void {
    if (this.#stopped || this.#spare) return;
    const due = performance.now() + ms;
    if (this.#timer) {
      if (later ? due <= this.#due : due >= this.#due) return;
      clearTimeout(this.#timer);
    }
    this.#due = due;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (!this.#stopped && !this.#spare) this.#spare = generateEphemeral();
    }, ms);
    this.#timer.unref?.();
  }

  /** Makes no more pairs. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }
}
