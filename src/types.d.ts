declare module 'k-bucket' {
  import { EventEmitter } from 'node:events';
  export interface Contact { id: Uint8Array; vectorClock?: number; [k: string]: unknown }
  export interface KBucketOptions {
    localNodeId?: Uint8Array;
    numberOfNodesPerKBucket?: number;
    numberOfNodesToPing?: number;
    distance?: (a: Uint8Array, b: Uint8Array) => number;
  }
  export default class KBucket<C extends Contact = Contact> extends EventEmitter {
    constructor(opts?: KBucketOptions);
    localNodeId: Uint8Array;
    add(contact: C): this;
    remove(id: Uint8Array): this;
    get(id: Uint8Array): C | null;
    closest(id: Uint8Array, n?: number): C[];
    count(): number;
    toArray(): C[];
    static distance(a: Uint8Array, b: Uint8Array): number;
  }
}
