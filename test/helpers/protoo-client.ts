/** The real protoo-client from npm (CommonJS, brings its own W3C WebSocket client), for signaling tests. */
import type test from 'tape';
import { createRequire } from 'node:module';
import { urlOf } from './testnet.js';
import type { PeerRelay } from '../../src/index.js';

const protooClient: any = createRequire(import.meta.url)('protoo-client');

/** A protoo-client Peer for `peerId` on `node`, open (rejects if it fails or closes first), closed at teardown. */
export async function protoo(t: test.Test, node: PeerRelay, peerId: string): Promise<any> {
  const transport = new protooClient.WebSocketTransport(`${urlOf(node)}/?peerId=${encodeURIComponent(peerId)}`, { retries: 0 });
  const peer = new protooClient.Peer(transport);
  t.teardown(() => peer.close());
  await new Promise<void>((resolve, reject) => {
    peer.once('open', () => resolve());
    peer.once('failed', () => reject(new Error('failed')));
    peer.once('close', () => reject(new Error('closed before open')));
  });
  return peer;
}

/** The data of the next notification `method` on `peer`; rejects after `ms`. */
export function nextNotification(peer: any, method: string, ms = 10_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { peer.off('notification', on); reject(new Error(`no ${method} notification`)); }, ms);
    function on(n: any) {
      if (n.method !== method) return;
      clearTimeout(timer);
      peer.off('notification', on);
      resolve(n.data);
    }
    peer.on('notification', on);
  });
}
