/**
 * Departure announcements (`peers_disconnected`), off the hot path. Ids are
 * queued (one entry each, however often they come and go) and announced in
 * rounds of at most presenceBatch ids: a round writes one frame per client
 * that reads batches (PRESENCE_BATCH), one per id to the others, at most
 * presenceFramesPerTurn frames per event-loop turn. Ids that leave during a
 * round wait for the next one, so work never piles up.
 */
import type { SignalingLimits } from './limits.js';
import type { ClientInfo, ClientSink } from './types.js';

/** Capability of a client that reads `peer_disconnected` with `payload.peerIds` (every id of one departure round). */
export const PRESENCE_BATCH = 'relaymesh-presence-v1';

/** A local client that may hear of departures. */
export interface Listener { info: ClientInfo; sink: ClientSink }

export interface PresenceHost<L extends Listener> {
  /** True if `id` is still gone (not registered here or anywhere known). */
  gone(id: string): boolean;
  /** The local clients now. */
  listeners(): L[];
  /** True if this listener is still registered (its round may outlive it). */
  listening(l: L): boolean;
}

interface Round<L> { ids: string[]; set: Set<string>; sinks: L[]; i: number }

export class DepartureFanOut<L extends Listener> {
  readonly #limits: Pick<SignalingLimits, 'presenceBatch' | 'presenceFramesPerTurn'>;
  readonly #host: PresenceHost<L>;
  readonly #queued = new Set<string>();
  #round: Round<L> | null = null;
  #scheduled = false;
  #closed = false;
  /** Frames written to announce departures. */
  frames = 0;

  constructor(limits: Pick<SignalingLimits, 'presenceBatch' | 'presenceFramesPerTurn'>, host: PresenceHost<L>) {
    this.#limits = limits;
    this.#host = host;
  }

  /** Ids waiting to be announced, with those of the round in progress. */
  get backlog(): number { return this.#queued.size + (this.#round?.ids.length ?? 0); }

  add(ids: string[]): void {
    if (this.#closed) return;
    for (const id of ids) this.#queued.add(id);
    this.#schedule();
  }

  /** `id` is back before its departure was announced. */
  forget(id: string): void { this.#queued.delete(id); }

  /** Stops at once: clients leaving a closing server are announced to nobody. */
  close(): void {
    this.#closed = true;
    this.#queued.clear();
    this.#round = null;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#turn();
    });
  }

  #turn(): void {
    if (this.#closed) return;
    if (!this.#round) {
      const ids: string[] = [];
      for (const id of this.#queued) {
        this.#queued.delete(id);
        if (this.#host.gone(id)) ids.push(id); // back already (here or elsewhere): nothing to announce
        if (ids.length >= this.#limits.presenceBatch) break;
      }
      if (ids.length > 0) this.#round = { ids, set: new Set(ids), sinks: this.#host.listeners(), i: 0 };
    }
    const r = this.#round;
    if (r) {
      let budget = this.#limits.presenceFramesPerTurn;
      while (r.i < r.sinks.length && budget > 0) {
        const l = r.sinks[r.i++];
        if (!this.#host.listening(l) || l.sink.dialect === 'connector') continue; // gone, or has no such event
        const mine = r.set.has(l.info.clientId) ? r.ids.filter((id) => id !== l.info.clientId) : r.ids;
        if (mine.length === 0) continue;
        const single = !l.info.capabilities.includes(PRESENCE_BATCH);
        l.sink.send({ kind: 'peers_disconnected', peerIds: mine, single });
        budget -= single ? mine.length : 1;
        this.frames++;
      }
      if (r.i >= r.sinks.length) this.#round = null;
    }
    if (this.#round || this.#queued.size > 0) this.#schedule();
  }
}
