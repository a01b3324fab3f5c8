/**
 * The demo chat's one room, kept by the bootstrap node. Members are mesh nodes
 * (browser pages); the room only tells who is in it. Chat lines go from member
 * to member, sealed end to end, never through the room:
 *
 *   member -> room  {demo:'join', name} | {demo:'leave'}
 *   room -> member  {demo:'members', members:[{id,name}]} | {demo:'joined', id, name} | {demo:'left', id}
 *   member -> member {demo:'chat', name, text}
 *
 * Bad input is dropped and counted, never thrown.
 */
import debugFactory from 'debug';
import type { PeerRelay } from '../src/peer-relay.js';
import { toHex } from '../src/util/bytes.js';

const debug = debugFactory('relaymesh:demo');

export const DEMO_MAX_MEMBERS = 64;
export const DEMO_MAX_NAME = 32;

export class DemoRoom {
  readonly #node: PeerRelay;
  readonly #members = new Map<string, { name: string; joinedAt: number }>();
  readonly #maxMembers: number;
  #dropped = 0;
  #closed = false;
  readonly #onMessage = (data: unknown, from: Uint8Array) => this.#handle(data, toHex(from));
  readonly #onGone = (id: Uint8Array) => this.#remove(toHex(id));
  readonly #onUndeliverable = (_err: Error, to: Uint8Array) => this.#remove(toHex(to));

  constructor(node: PeerRelay, maxMembers = DEMO_MAX_MEMBERS) {
    if (!Number.isInteger(maxMembers) || maxMembers < 1) throw new RangeError('maxMembers must be a positive integer');
    this.#node = node;
    this.#maxMembers = maxMembers;
    node.on('message', this.#onMessage);
    node.on('disconnect', this.#onGone);
    node.on('undeliverable', this.#onUndeliverable);
  }

  get size(): number { return this.#members.size; }
  get dropped(): number { return this.#dropped; }
  members(): { id: string; name: string }[] { return [...this.#members].map(([id, m]) => ({ id, name: m.name })); }

  close(): void {
    this.#closed = true;
    this.#node.off('message', this.#onMessage);
    this.#node.off('disconnect', this.#onGone);
    this.#node.off('undeliverable', this.#onUndeliverable);
    this.#members.clear();
  }

  #handle(data: unknown, from: string): void {
    if (this.#closed || !data || typeof data !== 'object' || !('demo' in data)) return;
    const msg = data as { demo: unknown; name?: unknown };
    if (msg.demo === 'join') {
      if (typeof msg.name !== 'string' || msg.name.length === 0 || msg.name.length > DEMO_MAX_NAME) { this.#drop('bad name'); return; }
      const isNew = !this.#members.has(from);
      if (isNew && this.#members.size >= this.#maxMembers) {
        // Full: the longest-present member makes room (a demo, not a service). Not a BoundedMap:
        // the evicted member must be told to the others, one at a time.
        const oldest = this.#members.keys().next().value as string;
        this.#remove(oldest);
      }
      this.#members.set(from, { name: msg.name, joinedAt: Date.now() });
      this.#send(from, { demo: 'members', members: this.members() });
      for (const id of this.#members.keys()) if (id !== from) this.#send(id, { demo: 'joined', id: from, name: msg.name });
      debug('%s joined as %s (%d members)', from.slice(0, 8), msg.name, this.#members.size);
    } else if (msg.demo === 'leave') {
      this.#remove(from);
    } else if (msg.demo !== 'chat') {
      this.#drop('unknown demo message');
    }
  }

  #remove(id: string): void {
    if (this.#closed || !this.#members.delete(id)) return;
    for (const other of this.#members.keys()) this.#send(other, { demo: 'left', id });
  }

  #send(to: string, msg: unknown): void {
    try {
      this.#node.send(to, msg);
    } catch (err) {
      debug('send to %s failed: %s', to.slice(0, 8), (err as Error).message);
    }
  }

  #drop(why: string): void {
    this.#dropped++;
    debug('dropped: %s', why);
  }
}
