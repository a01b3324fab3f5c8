/**
 * Client messages from this node to one home node in the same tick travel
 * together as one mesh message (PROTOCOL.md §11), which saves a sealed mesh
 * message per client message: to a node that announced `mesh-bin-v1` as one
 * binary batch (mesh-binary.ts: records as their bytes), to any other as the
 * text batch `{"t":"batch","lens":[..]}\n` then the `msg` items back to back
 * (lens in UTF-16 code units; a record as base64). Past the node's
 * sendHighWaterMark the senders' connections are not read until 'drain'.
 */
import debugFactory from 'debug';
import { fromHex, textEncoder, toHex } from '../util/bytes.js';
import type { SignalingDropReason } from '../util/drop-reasons.js';
import type { MeshNode } from '../node/mesh-node.js';
import type { ClientEvent } from './types.js';
import { RecordMessage } from './im-binary.js';
import { BATCH_HEAD, encodeBatch, ITEM_JSON, itemSize, utf8Length, type OutItem } from './mesh-binary.js';

const debug = debugFactory('relaymesh:signaling:mesh');
/** A binary batch up to this size is written into one reused buffer (the node seals or copies it before send returns). */
const SCRATCH_BYTES = 256 * 1024;

export interface BatchHost {
  /** Hands an event to local client `id`. */
  deliver(id: string, event: ClientEvent): void;
  /** Stops (true) or resumes (false) reading these local clients' connections. */
  pauseClients(ids: string[], paused: boolean): void;
  count(reason: SignalingDropReason): void;
  closed(): boolean;
  /** True if node `dest` reads binary mesh batches (it announced `mesh-bin-v1`). */
  binary(dest: string): boolean;
}

/** Client messages sent to other nodes, by form (SignalingStats.meshItemsOut). */
export interface ItemCounts { binary: number; text: number }

interface Batch { items: OutItem[]; bytes: number }

export class ClientBatches {
  readonly #node: MeshNode;
  readonly #channel: number;
  readonly #host: BatchHost;
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #batches = new Map<string, Batch>();
  /** Local clients whose connections are not read until the node's 'drain' (their messages filled the way to a home). */
  readonly #paused = new Set<string>();
  readonly #onDrain = (): void => this.#resume();
  #scratch: Uint8Array | null = null;
  readonly sent: ItemCounts = { binary: 0, text: 0 };

  /** `maxItems`, `maxBytes`: a batch's bound (a longer message goes alone). */
  constructor(node: MeshNode, channel: number, host: BatchHost, maxItems: number, maxBytes: number) {
    this.#node = node;
    this.#channel = channel;
    this.#host = host;
    this.#maxItems = maxItems;
    this.#maxBytes = maxBytes;
  }

  /**
   * Queues client `from`'s message for client `to` at home `dest`: a binary record, or the message's JSON
   * text. It goes at the end of this tick, or when the batch is full.
   */
  add(dest: string, to: string, from: string, message: RecordMessage | string): void {
    const rec = message instanceof RecordMessage;
    const body = rec ? message.record : message;
    const it: OutItem = {
      kind: rec ? message.kind : ITEM_JSON, to, from, body,
      toBytes: utf8Length(to), fromBytes: utf8Length(from), bodyBytes: rec ? message.record.length : utf8Length(message),
    };
    const size = itemSize(it);
    let b = this.#batches.get(dest);
    if (b && b.bytes + size > this.#maxBytes) {
      this.#flush(dest);
      b = undefined;
    }
    if (!b) {
      b = { items: [], bytes: BATCH_HEAD };
      this.#batches.set(dest, b);
      queueMicrotask(() => this.#flush(dest));
    }
    b.items.push(it);
    b.bytes += size;
    if (b.items.length >= this.#maxItems) this.#flush(dest);
  }

  #flush(dest: string): void {
    const b = this.#batches.get(dest);
    if (!b) return;
    this.#batches.delete(dest);
    if (this.#host.closed() || this.#node.destroyed) return;
    const binary = this.#host.binary(dest);
    const payload = binary ? this.#binaryPayload(b) : textEncoder.encode(textBatch(b.items));
    // The node refuses a message toward a congested link at once ('undeliverable', synchronously): the
    // senders are told, so no client message is lost silently.
    let refused = false;
    let accepted = true;
    const onRefused = (_err: unknown, to: Uint8Array) => { if (toHex(to) === dest) refused = true; };
    this.#node.on('undeliverable', onRefused);
    try {
      accepted = this.#node.sendOnChannel(fromHex(dest), this.#channel, payload);
    } catch (err) {
      refused = true;
      debug('send to %s failed: %s', dest.slice(0, 8), (err as Error).message);
    } finally {
      this.#node.off('undeliverable', onRefused);
    }
    // Past sendHighWaterMark (or refused) the senders' connections are not read until 'drain': a client
    // flooding a remote home is held back by its own socket instead of overrunning the link's queue.
    const froms = b.items.map((i) => i.from);
    if (!accepted || refused) this.#pause(froms);
    if (!refused) {
      if (binary) this.sent.binary += b.items.length;
      else this.sent.text += b.items.length;
      return;
    }
    this.#host.count('send_failed');
    // One error per message: every client message the batch carried is reported, none left unaccounted.
    for (const from of froms) {
      this.#host.deliver(from, { kind: 'error', errorType: 'LIMIT_REACHED', details: 'the mesh toward the target\'s home node is congested: a message was not sent' });
    }
  }

  /** The batch as binary-batch bytes, in the reused buffer when it fits (sendOnChannel seals or copies it). */
  #binaryPayload(b: Batch): Uint8Array {
    if (b.bytes <= SCRATCH_BYTES && !this.#scratch) this.#scratch = new Uint8Array(SCRATCH_BYTES);
    return encodeBatch(b.items, b.bytes, this.#scratch);
  }

  #pause(froms: string[]): void {
    const fresh = [...new Set(froms)].filter((id) => !this.#paused.has(id));
    if (fresh.length === 0) return;
    if (this.#paused.size === 0) this.#node.once('drain', this.#onDrain);
    for (const id of fresh) this.#paused.add(id);
    this.#host.pauseClients(fresh, true);
  }

  /** Reads every paused client again (the node drained, or the mesh side closes). */
  close(): void {
    this.#resume();
    this.#scratch = null;
  }

  #resume(): void {
    if (this.#paused.size === 0) return;
    const ids = [...this.#paused];
    this.#paused.clear();
    this.#node.off('drain', this.#onDrain);
    this.#host.pauseClients(ids, false);
  }
}

/** A `msg` item in the text form: `{"t":"msg",to,from}\n<message JSON>`, a record as `{..,"k":kind}\n<base64>`. */
function textItem(it: OutItem): string {
  if (typeof it.body === 'string') return `${JSON.stringify({ t: 'msg', to: it.to, from: it.from })}\n${it.body}`;
  return `${JSON.stringify({ t: 'msg', to: it.to, from: it.from, k: it.kind })}\n${new RecordMessage(it.kind, it.body).toJSON().r}`;
}

/** The text form of a batch (one item alone as itself). */
function textBatch(items: OutItem[]): string {
  if (items.length === 1) return textItem(items[0]);
  const texts = items.map(textItem);
  return `${JSON.stringify({ t: 'batch', lens: texts.map((x) => x.length) })}\n${texts.join('')}`;
}

/** The items of a text batch (`{"t":"batch","lens":[..]}\n` + items); null if its header or lengths are wrong. */
export function splitTextBatch(text: string, maxItems: number): string[] | null {
  const nl = text.indexOf('\n');
  let lens: unknown;
  try { lens = JSON.parse(text.slice(0, nl)).lens; } catch { lens = null; }
  if (nl < 0 || !Array.isArray(lens) || lens.length > maxItems || !lens.every((l) => Number.isSafeInteger(l) && l > 0)
    || (lens as number[]).reduce((a, l) => a + l, 0) !== text.length - nl - 1) return null;
  const out: string[] = [];
  let off = nl + 1;
  for (const l of lens as number[]) {
    out.push(text.slice(off, off + l));
    off += l;
  }
  return out;
}
