/** Helpers for signaling/messaging tests: connected MessagingPeers with teardown, and waiting for their events. */
import type { Test } from 'tape';
import WebSocket from 'ws';
import { MessagingPeer, generateKeyPair, type MessagingPeerConfig, type PeerRelay } from '../../src/index.js';
import { urlOf } from './testnet.js';

export async function startClient(t: Test, node: PeerRelay | string | string[], clientId: string, extra: Partial<MessagingPeerConfig> = {}): Promise<MessagingPeer> {
  const peer = makeClient(t, node, clientId, extra);
  await peer.connect();
  return peer;
}

export function makeClient(t: Test, node: PeerRelay | string | string[], clientId: string, extra: Partial<MessagingPeerConfig> = {}): MessagingPeer {
  const { publicKey, secretKey } = generateKeyPair();
  const peer = new MessagingPeer({ serverUrl: typeof node === 'string' || Array.isArray(node) ? node : urlOf(node), clientId, publicKey, secretKey, ...extra });
  t.teardown(() => peer.disconnect());
  return peer;
}

export interface Received { message: string; fromId: string; info: { algorithm: string; authenticated: boolean } }

/** Collects every message a peer receives. */
export function inbox(peer: MessagingPeer): Received[] {
  const got: Received[] = [];
  peer.onMessage((message, fromId, info) => got.push({ message, fromId, info }));
  return got;
}

export function nextError(peer: MessagingPeer, ms = 10_000): Promise<{ type: string; details: string; code?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no error in time')), ms);
    const h = (e: { type: string; details: string; code?: string }) => { clearTimeout(timer); peer.removeErrorHandler(h); resolve(e); };
    peer.onError(h);
  });
}

/** A raw WebSocket to the IM dialect, for frames no client would send. */
export async function rawSocket(t: Test, url: string): Promise<{ ws: WebSocket; frames: any[]; next: (ms?: number) => Promise<any>; send: (f: unknown) => void; closed: Promise<number> }> {
  const ws = new WebSocket(url);
  t.teardown(() => ws.terminate());
  const frames: any[] = [];
  const waiters: ((f: any) => void)[] = [];
  ws.on('message', (d, isBinary) => {
    const f = isBinary ? { binary: d } : JSON.parse(d.toString());
    const w = waiters.shift();
    if (w) w(f); else frames.push(f);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
  return {
    ws, frames, closed,
    send: (f) => ws.send(typeof f === 'string' ? f : JSON.stringify(f)),
    next: (ms = 10_000) => frames.length ? Promise.resolve(frames.shift()) : new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no frame in time')), ms);
      waiters.push((f) => { clearTimeout(timer); resolve(f); });
    }),
  };
}
