/**
 * What each other signaling node reads (PROTOCOL.md §11 "Binary mesh batches",
 * capability): a node says `caps: ["mesh-bin-v1"]` in its hellos and rosters,
 * (rosters with `ask: 1` while it does not know the receiver's); an `ask` is answered
 * with a `caps` message. A hello or roster without `caps` is an older node's:
 * text only.
 */
import { BoundedMap } from '../util/bounded-map.js';
import { MESH_BINARY } from './mesh-binary.js';

/** The capability fields of a hello, a roster or a caps message. */
export type Caps = { caps?: string[]; ask?: 1 };

export class MeshCaps {
  /** This node reads and sends binary mesh batches (SignalingOptions.meshBinary). */
  readonly #on: boolean;
  /** Nodes that said they read binary mesh batches (true) or said nothing of it (false). */
  readonly #peers: BoundedMap<string, boolean>;

  constructor(on: boolean, maxNodes: number) {
    this.#on = on;
    this.#peers = new BoundedMap(Math.max(2, maxNodes));
  }

  /** True if binary mesh batches go to node `hex`. */
  binary(hex: string): boolean { return this.#on && this.#peers.get(hex) === true; }

  /**
   * What this node says of itself to `hex`: `mesh-bin-v1` (unless off), and (`ask`) a request for its caps while
   * `hex` has not said what it reads. A hello asks nothing: the other end of a new link sends its own hello.
   */
  say(hex: string, ask = true): Caps {
    if (!this.#on) return {};
    return !ask || this.#peers.has(hex) ? { caps: [MESH_BINARY] } : { caps: [MESH_BINARY], ask: 1 };
  }

  /** Takes what node `hex` said (a hello, roster or caps message); true if it asked and gets a `caps` answer. */
  took(msg: Caps, hex: string): boolean {
    const binary = Array.isArray(msg.caps) && msg.caps.includes(MESH_BINARY);
    if (this.#peers.get(hex) !== binary) this.#peers.set(hex, binary);
    return msg.ask === 1 && this.#on;
  }

  /** Node `hex` was found dead: it may come back as an older node (it says so in its next hello or roster). */
  forget(hex: string): void { this.#peers.delete(hex); }
}
