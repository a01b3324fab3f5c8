/**
 * The public keys a node holds of other nodes, each checked against its id
 * before it gets here (by the link handshake, a KEY_RESPONSE, the keys riding
 * on a KEY_REQUEST, or an INIT; PROTOCOL.md §5.1). Bounded (maxKeys): the most
 * recently learned are kept. Which links' keys come here at all is the node's
 * policy (node/neighbour-keys.ts).
 */
import type { PublicIdentity } from '../crypto/identity.js';
import { BoundedMap } from '../util/bounded-map.js';
import { cpuQueue, CpuPriority } from '../util/cpu-queue.js';

export class PeerKeys {
  readonly #keys: BoundedMap<string, PublicIdentity>;
  #stopped = false;

  constructor(maxKeys: number) {
    this.#keys = new BoundedMap(maxKeys);
  }

  /**
   * Remembers keys that were checked against their id (keys held already for
   * that id stay: same bytes, one object). With `ahead` (keys from a link,
   * used later if at all) one encapsulation to the peer's KEM key is made now,
   * off the critical path of a later handshake; each is used once.
   */
  learn(remote: PublicIdentity, ahead = false): void {
    const known = this.#keys.get(remote.idHex);
    this.#keys.set(remote.idHex, known ?? remote);
    if (ahead) {
      const keys = known ?? remote;
      // Work made ahead waits for the CPU queue to have nothing more urgent (link handshakes).
      setTimeout(() => cpuQueue.run(CpuPriority.AHEAD, () => { if (!this.#stopped) keys.precompute(); }), 0);
    }
  }

  /** The keys held for node `hex`. */
  get(hex: string): PublicIdentity | undefined { return this.#keys.get(hex); }

  /** No more work ahead (the node is being destroyed); the keys stay readable. */
  stop(): void { this.#stopped = true; }
}
