/**
 * node:dgram's Socket.prototype, which PeerRelay.Socket's prototype chain
 * passes through so that `socket instanceof dgram.Socket` holds (node-coap,
 * for one, tests it before using its duplicate-request cache). dgram's
 * constructor, which makes the UDP handle, is never called. The browser
 * bundle swaps this file for dgram-base-browser.ts (no dgram there).
 */
import dgram from 'node:dgram';

export const dgramSocketPrototype: object | null = dgram.Socket.prototype;
