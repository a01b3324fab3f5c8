/**
 * Client messages from this node to one home node in the same tick travel
 * together as one mesh message: `{"t":"batch","lens":[..]}\n` then the
 * messages back to back (lens in UTF-16 code units), which saves a sealed mesh
 * message per client message (PROTOCOL.md §11). Past the node's
 * sendHighWaterMark the senders' connections are not read until 'drain'.
 */
import debugFactory from 'debug';
import { fromHex, textEncoder, toHex } from '../util/bytes.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import type { MeshNode } from '../node/mesh-node.js';
import type { ClientEvent } from './types.js';

const debug = debugFactory('relaymesh:signaling:mesh');
export const MAX_BATCH_ITEMS = 256;
const MAX_BATCH_CHARS = 1024 * 1024;

export interface BatchHost {
  /** Hands an event to local client `id`. */
  deliver(id: string, event: ClientEvent): void;
  /** Stops (true) or resumes (false) reading these local clients' connections. */
  pauseClients(ids: string[], paused: boolean): void;
  count(reason: SignalingDropReason): void;
  closed(): boolean;
}

export class ClientBatches {
  readonly #node: MeshNode;
  readonly #channel: number;
  readonly #host: BatchHost;
  readonly #batches = new Map<string, { items: string[]; froms: string[]; chars: number }>();
  /** Local clients whose connections are not read until the node's 'drain' (their messages filled the way to a home). */
  readonly #paused = new Set<string>();
  readonly #onDrain = (): void => this.#resume();

  constructor(node: MeshNode, channel: number, host: BatchHost) {
    this.#node = node;
    this.#channel = channel;
    this.#host = host;
  }

  /** Queues client `from`'s message text for home `dest`: it goes at the end of this tick, or when the batch is full. */
  add(dest: string, text: string, from: string): void {
    let b = this.#batches.get(dest);
    if (b && b.chars + text.length > MAX_BATCH_CHARS) {
      this.#flush(dest);
      b = undefined;
    }
    if (!b) {
      b = { items: [], froms: [], chars: 0 };
      this.#batches.set(dest, b);
      queueMicrotask(() => this.#flush(dest));
    }
    b.items.push(text);
    b.froms.push(from);
    b.chars += text.length;
    if (b.items.length >= MAX_BATCH_ITEMS) this.#flush(dest);
  }

  #flush(dest: string): void {
    const b = this.#batches.get(dest);
    if (!b) return;
    this.#batches.delete(dest);
    if (this.#host.closed() || this.#node.destroyed) return;
    const text = b.items.length === 1 ? b.items[0] : `${JSON.stringify({ t: 'batch', lens: b.items.map((i) => i.length) })}\n${b.items.join('')}`;
    // The node refuses a message toward a congested link at once ('undeliverable', synchronously): the
    // senders are told, so no client message is lost silently.
    let refused = false;
    let accepted = true;
    const onRefused = (_err: unknown, to: Uint8Array) => { if (toHex(to) === dest) refused = true; };
    this.#node.on('undeliverable', onRefused);
    try {
      accepted = this.#node.sendOnChannel(fromHex(dest), this.#channel, textEncoder.encode(text));
    } catch (err) {
      refused = true;
      debug('send to %s failed: %s', dest.slice(0, 8), (err as Error).message);
    } finally {
      this.#node.off('undeliverable', onRefused);
    }
    // Past sendHighWaterMark (or refused) the senders' connections are not read until 'drain': a client
    // flooding a remote home is held back by its own socket instead of overrunning the link's queue.
    if (!accepted || refused) this.#pause(b.froms);
    if (!refused) return;
    this.#host.count('send_failed');
    // One error per message: every client message the batch carried is reported, none left unaccounted.
    for (const from of b.froms) {
      this.#host.deliver(from, { kind: 'error', errorType: 'LIMIT_REACHED', details: 'the mesh toward the target\'s home node is congested: a message was not sent' });
    }
  }

  #pause(froms: string[]): void {
    const fresh = [...new Set(froms)].filter((id) => !this.#paused.has(id));
    if (fresh.length === 0) return;
    if (this.#paused.size === 0) this.#node.once('drain', this.#onDrain);
    for (const id of fresh) this.#paused.add(id);
    this.#host.pauseClients(fresh, true);
  }

  /** Reads every paused client again (the node drained, or the mesh side closes). */
  close(): void { this.#resume(); }

  #resume(): void {
    if (this.#paused.size === 0) return;
    const ids = [...this.#paused];
    this.#paused.clear();
    this.#node.off('drain', this.#onDrain);
    this.#host.pauseClients(ids, false);
  }
}
