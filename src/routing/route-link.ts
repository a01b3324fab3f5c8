/**
 * What the routing layer needs of a link: the link layer's Link provides it,
 * and so does the simulator's virtual link (bench/sim/level-b.ts).
 */
export interface RouteLink {
  /** Sends a frame; false if the link cannot carry it (closed, or its buffer is full). */
  send(frame: Uint8Array): boolean;
  readonly isClosed: boolean;
  /** The remote's id (hex). */
  readonly idHex: string;
  readonly remote: { readonly id: Uint8Array } | null;
  /** What the remote said of itself: its URL ('' if none) and HelloFlags. */
  readonly remoteUrl: string;
  readonly remoteFlags: number;
  /** True on the side that dialed. */
  readonly initiator: boolean;
  /** When the link opened (ms, the clock of its node). */
  readonly openedAt: number;
  readonly stats: { relayed: number };
  /** Tells the remote a NEIGHBOURS frame on its keepalive (optional; without it, the frame is sent). */
  advertise?(frame: Uint8Array): boolean;
}
