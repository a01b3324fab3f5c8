/**
 * A node's channels 0..254 (255 marks batch records, session/batch.ts): one
 * handler each, and the hand-over of every opened plaintext (`channel ||
 * payload`) to its channel's handler. What nobody handles is counted as a
 * drop; a handler that throws does not stop the node.
 */
import type { CountDrop } from '../util/drop-reasons.js';
import type { ChannelHandler } from './types.js';

/** Throws the RangeError of a channel number outside 0..254 (caller misuse). */
export function checkChannel(channel: number): void {
  if (!Number.isInteger(channel) || channel < 0 || channel > 254) throw new RangeError('channel must be 0..254 (255 marks batch records)');
}

export class Channels {
  readonly #handlers = new Map<number, ChannelHandler>();
  readonly #countDrop: CountDrop;
  /** Messages handed to a handler. */
  delivered = 0;

  constructor(countDrop: CountDrop) { this.#countDrop = countDrop; }

  /** One handler per channel: a second one throws. */
  register(channel: number, handler: ChannelHandler): void {
    checkChannel(channel);
    if (this.#handlers.has(channel)) throw new Error(`channel ${channel} already has a handler`);
    this.#handlers.set(channel, handler);
  }

  unregister(channel: number): void { this.#handlers.delete(channel); }

  /** Hands `pt[start..end)` (`channel || payload`) from `from` to its channel: the payload as one view. */
  deliver(from: Uint8Array, pt: Uint8Array, start = 0, end = pt.length): void {
    if (end <= start) return this.#countDrop('malformed');
    const handler = this.#handlers.get(pt[start]);
    if (!handler) return this.#countDrop('unknown_channel');
    this.delivered++;
    try {
      handler(pt.subarray(start + 1, end), from);
    } catch (err) {
      // A throwing application listener must not take down routing for everyone else.
      queueMicrotask(() => { throw err; });
    }
  }
}
