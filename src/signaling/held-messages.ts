/**
 * Messages and key requests for a client that may be moving (it left less than
 * movingWaitMs ago, or its home is being probed): held until it registers
 * again somewhere, bounded per client and node-wide; the sender hears
 * PEER_NOT_FOUND when the holding is full or the client does not come back.
 */
import type { SignalingLimits } from './limits.js';

export interface HeldRoutes {
  /** Sends to a local or remote client; false if it is registered nowhere known. */
  route(from: string, to: string, message: unknown): boolean;
  /** True if `id` may still come back (moving, or its home is being probed). */
  mayReturn(id: string): boolean;
  /** Tells local client `from` that `to` is not found, and why. */
  notFound(from: string, to: string, why: string): void;
}

interface Held { items: { from: string; message: unknown }[]; timer: ReturnType<typeof setTimeout> }

type Limits = Pick<SignalingLimits, 'maxParkedPerClient' | 'maxParkedMessages' | 'movingWaitMs'>;

export class HeldMessages {
  readonly #limits: Limits;
  readonly #routes: HeldRoutes;
  readonly #held = new Map<string, Held>();
  #count = 0;
  /** Key requests waiting for a moving client to register again. */
  readonly #arrivals = new Map<string, Set<() => void>>();

  constructor(limits: Limits, routes: HeldRoutes) {
    this.#limits = limits;
    this.#routes = routes;
  }

  /** Holds a message for `to`; when the holding is full, or `to` does not come back in time, `from` hears PEER_NOT_FOUND. */
  hold(to: string, from: string, message: unknown): void {
    let h = this.#held.get(to);
    if ((h && h.items.length >= this.#limits.maxParkedPerClient) || this.#count >= this.#limits.maxParkedMessages) {
      return this.#routes.notFound(from, to, 'is moving and too many messages wait for it');
    }
    if (!h) {
      const timer = setTimeout(() => {
        this.#held.delete(to);
        this.#count -= h!.items.length;
        for (const item of h!.items) this.#routes.notFound(item.from, to, `did not register again within ${this.#limits.movingWaitMs} ms`);
      }, this.#limits.movingWaitMs);
      timer.unref?.();
      h = { items: [], timer };
      this.#held.set(to, h);
    }
    h.items.push({ from, message });
    this.#count++;
  }

  /** Clients registered somewhere (here, or a new home is known): their held messages and key requests go now. */
  arrived(ids: string[]): void {
    for (const id of ids) {
      const h = this.#held.get(id);
      if (h) {
        this.#held.delete(id);
        clearTimeout(h.timer);
        this.#count -= h.items.length;
        for (const item of h.items) {
          if (this.#routes.route(item.from, id, item.message)) continue;
          if (this.#routes.mayReturn(id)) this.hold(id, item.from, item.message);
          else this.#routes.notFound(item.from, id, 'is not registered');
        }
      }
      const waiting = this.#arrivals.get(id);
      if (waiting) {
        this.#arrivals.delete(id);
        for (const w of waiting) w();
      }
    }
  }

  /** Resolves true when `id` registers again somewhere, false after `leftMs`. */
  waitArrival(id: string, leftMs: number): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      let set = this.#arrivals.get(id);
      if (!set) this.#arrivals.set(id, (set = new Set()));
      const done = () => { clearTimeout(timer); resolve(true); };
      const timer = setTimeout(() => {
        set!.delete(done);
        if (set!.size === 0 && this.#arrivals.get(id) === set) this.#arrivals.delete(id);
        resolve(false);
      }, Math.max(0, leftMs));
      timer.unref?.();
      set.add(done);
    });
  }

  /** Drops everything held (the server is closing); waiting key requests resolve at once. */
  close(): void {
    for (const h of this.#held.values()) clearTimeout(h.timer);
    this.#held.clear();
    this.#count = 0;
    for (const set of this.#arrivals.values()) for (const w of set) w();
    this.#arrivals.clear();
  }
}
