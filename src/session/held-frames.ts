/**
 * DATA from a peer that arrived for the sid of an INIT this node sent it before
 * the RESP was opened (a responder sends at once, and opening a RESP may wait in
 * the CPU queue), and that peer's DATA that arrived after them on other
 * sessions: held in arrival order, so the peer's messages are delivered in the
 * order it sent them. Bounded per peer and in all; past a bound a frame is not
 * held (the caller handles it as it would have).
 */

/** DATA frames held from one peer while an INIT this node sent it waits for its RESP. */
const HELD_PER_PEER = 32;
/** Such DATA frames held in all. */
const HELD_TOTAL = 256;

export class HeldFrames {
  /** By peer (hex id): the frames, and the sids of the INITs they wait for. */
  readonly #byPeer = new Map<string, { frames: Uint8Array[]; sids: Set<string> }>();
  #count = 0;
  /** True if the RESP to INIT `sid` is being opened (in the CPU queue). */
  readonly #opening: (sid: string) => boolean;

  constructor(opening: (sid: string) => boolean) { this.#opening = opening; }

  /** Frames held, from every peer. */
  get count(): number { return this.#count; }

  /**
   * Holds a copy of `frame` from peer `hex`: for the INIT `sid`, or (sid null) behind frames held
   * from that peer while the RESP they wait for is being opened. False if there is nothing to wait
   * behind (sid null) or a bound is reached.
   */
  hold(hex: string, frame: Uint8Array, sid: string | null): boolean {
    let held = this.#byPeer.get(hex);
    if (!held) {
      if (sid === null) return false;
      held = { frames: [], sids: new Set() };
      this.#byPeer.set(hex, held);
    } else if (sid === null && ![...held.sids].some(this.#opening)) {
      // Their RESP has not arrived: this frame need not wait for it (it may never come).
      return false;
    }
    if (held.frames.length >= HELD_PER_PEER || this.#count >= HELD_TOTAL) return false;
    if (sid !== null) held.sids.add(sid);
    held.frames.push(frame.slice());
    this.#count++;
    return true;
  }

  /** Takes the frames held from peer `hex`, in arrival order (to be handled again). */
  take(hex: string): Uint8Array[] {
    const held = this.#byPeer.get(hex);
    if (!held) return [];
    this.#byPeer.delete(hex);
    this.#count -= held.frames.length;
    return held.frames;
  }

  /** Peers none of whose INITs `open(sid)` any more: what they held should be handled again. */
  abandoned(open: (sid: string) => boolean): string[] {
    const out: string[] = [];
    for (const [hex, held] of this.#byPeer) if (![...held.sids].some(open)) out.push(hex);
    return out;
  }
}
