/**
 * One ephemeral key pair for the next handshake, made ahead of time (on the
 * next turn of the event loop) so the handshake's critical path does not wait
 * for it. Each pair is used once. None is made before the first handshake: a
 * node that never starts a session does no KEM work for it.
 */
import { generateEphemeral, type EphemeralKeyPair } from '../crypto/session.js';

export class SpareEphemeral {
  #spare: EphemeralKeyPair | null = null;
  #timer: ReturnType<typeof setImmediate> | null = null;
  #stopped = false;

  /** The spare pair (or a new one if none is ready yet); the next is made soon after. */
  take(): EphemeralKeyPair {
    const e = this.#spare ?? generateEphemeral();
    this.#spare = null;
    this.#refill();
    return e;
  }

  /** Makes no more pairs. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearImmediate(this.#timer);
    this.#timer = null;
  }

  #refill(): void {
    if (this.#timer || this.#stopped) return;
    this.#timer = setImmediate(() => {
      this.#timer = null;
      if (!this.#stopped && !this.#spare) this.#spare = generateEphemeral();
    });
    this.#timer.unref?.();
  }
}
