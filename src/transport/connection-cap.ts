/** Connection caps of a listener's routes (kept apart from listener.ts, which the browser bundle stubs). */
/**
 * Connections open at once on the routes that share this cap: at most `max`
 * in all (HTTP 503 before the upgrade) and `perAddress` from one remote
 * address (HTTP 429). A connection counts from its upgrade request until
 * its socket closes.
 */
export class ConnectionCap {
  readonly max: number;
  readonly perAddress: number;
  open = 0;
  readonly #byAddress = new Map<string, number>();

  constructor(max: number, perAddress: number) {
    this.max = max;
    this.perAddress = perAddress;
  }

  fromAddress(address: string): number { return this.#byAddress.get(address) ?? 0; }

  /** Counts a connection from `address` until `socket` closes; or the HTTP refusal if over a cap. */
  admit(address: string, socket: { once(event: 'close', fn: () => void): unknown }): { status: number; reason: string } | null {
    if (this.open >= this.max) return { status: 503, reason: 'Too Many Connections' };
    const n = this.fromAddress(address);
    if (n >= this.perAddress) return { status: 429, reason: 'Too Many Connections From This Address' };
    this.open++;
    this.#byAddress.set(address, n + 1);
    socket.once('close', () => {
      this.open--;
      const left = (this.#byAddress.get(address) ?? 1) - 1;
      if (left > 0) this.#byAddress.set(address, left); else this.#byAddress.delete(address);
    });
    return null;
  }
}

