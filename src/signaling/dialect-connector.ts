/**
 * The Peer2Peer Connector dialect (seeds/peer2peer-connector.txt): clients send
 * `{event, to?, data}`; the server answers with envelopes
 * `{type, event, data, timestamp, message_id}`. A connection selects this
 * dialect by its URL path (CONNECTOR_PATH), with no subprotocol. Each client is
 * registered in the core under a server-assigned 22-character id, so IM and
 * protoo clients can reach it and it can reach them.
 */
import debugFactory from 'debug';
import type { WebSocket } from 'ws';
import { randomBytes } from '../util/bytes.js';
import type { RelayError } from '../util/errors.js';
import type { ClientEvent, SignalingCore } from './core.js';
import { JsonSocket } from './json-socket.js';
import { roomsOf, type RoomEvent, type RoomSink, type Rooms } from './rooms.js';
import { connectorErrorEvent, errorTypeOf } from './wire-errors.js';

const debug = debugFactory('relaymesh:signaling:connector');

/** URL paths that select the Connector dialect. */
export const CONNECTOR_PATHS = ['/connector', '/p2p'];
/** Events relayed to `to` with `to` removed and `from` added. */
const RELAYED = new Set(['Offer', 'Answer', 'Candidate', 'Message']);
const ID_ALPHABET = '23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';


/** A server-assigned client id: 22 characters of a 57-letter alphabet (~128 bits). */
export function connectorId(): string {
  let out = '';
  while (out.length < 22) {
    for (const b of randomBytes(32)) {
      if (b < 228 && out.length < 22) out += ID_ALPHABET[b % 57];
    }
  }
  return out;
}

export function isConnectorPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0].replace(/\/+$/, '');
  return CONNECTOR_PATHS.includes(path);
}

/** One client connection speaking the Connector dialect. */
export class ConnectorSession implements RoomSink {
  readonly dialect = 'connector';
  readonly remoteAddress: string;
  readonly id = connectorId();
  readonly #core: SignalingCore;
  readonly #rooms: Rooms;
  readonly #sock: JsonSocket;

  constructor(core: SignalingCore, ws: WebSocket, remoteAddress: string) {
    this.#core = core;
    this.#rooms = roomsOf(core);
    this.remoteAddress = remoteAddress;
    this.#sock = new JsonSocket(ws, remoteAddress, core.limits, {
      frame: (m) => this.#onFrame(m),
      bad: (why) => this.#error(why === 'rate' ? 'Rate_Limited' : 'Unsupported_Event', why === 'rate' ? 'too many frames' : 'frames must be JSON objects {event, to?, data}'),
      closed: () => core.unregister(this),
    });
    core.register(this, { clientId: this.id, publicKey: new Uint8Array(0), proof: null, capabilities: ['connector'], keyless: true }).then(
      () => {
        if (this.#sock.closed) core.unregister(this);
        else this.#server('info', 'Client_Details', { id: this.id });
      },
      (err: RelayError) => {
        this.#fail(err);
        this.#sock.close(1008, 'registration refused');
      },
    );
  }

  // ------------------------------------------------------------ ClientSink

  send(event: ClientEvent): void {
    switch (event.kind) {
      case 'message': {
        const m = event.message as Record<string, unknown> | null;
        // A Connector peer's frame is forwarded as it was sent; anything else arrives as a Message.
        if (m && typeof m === 'object' && typeof m.event === 'string' && RELAYED.has(m.event)) {
          this.#sock.send({ event: m.event, data: m.data, from: event.fromId, ...stamp() });
        } else this.#sock.send({ event: 'Message', data: m, from: event.fromId, ...stamp() });
        return;
      }
      case 'error': return this.#error(connectorErrorEvent(event.errorType, 'Not_Found'), event.details);
      case 'peer_disconnected': return; // not a Connector event
      case 'question': return; // Connector clients cannot be asked; the question times out
    }
  }

  roomEvent(ev: RoomEvent): void {
    switch (ev.kind) {
      case 'added': return this.#server('update', 'Client_Added', { clients: ev.clients, name: ev.name, room: ev.room });
      case 'removed': return this.#server('update', 'Client_Removed', { clients: ev.clients, name: ev.name, room: ev.room });
      case 'deleted': return this.#server('update', 'Room_Deleted', { clients: ev.clients, name: ev.name, room: ev.room });
      case 'message': return this.#server('update', 'Room_Message', { room: ev.room, from: ev.from, data: ev.data });
    }
  }

  pauseReading(paused: boolean): void { this.#sock.pauseReading(paused); }
  close(code = 1000, reason = ''): void { this.#sock.close(code, reason); }

  // ------------------------------------------------------------ input

  #onFrame(m: Record<string, unknown>): void {
    const event = m.event;
    if (typeof event !== 'string') return this.#error('Missing_Fields', 'event is required');
    if (!this.#core.clientOf(this)) return this.#error('Not_Found', 'this connection is not registered yet');
    const data = (m.data && typeof m.data === 'object' ? m.data : {}) as Record<string, unknown>;
    if (RELAYED.has(event) || event === 'Connect') {
      const to = m.to;
      if (typeof to !== 'string' || !to) return this.#error('Missing_Fields', `${event} needs "to"`);
      // Connect {sdp, candidate} reaches the target as an Offer (both fields, read from their own keys).
      const message = event === 'Connect' ? { event: 'Offer', data: { sdp: data.sdp, candidate: data.candidate } } : { event, data: m.data };
      try {
        this.#core.relay(this, to, message);
      } catch (err) {
        const e = err as RelayError;
        if (errorTypeOf(e) === 'PEER_NOT_FOUND') return this.#error('Not_Found', `Client with given ${to.slice(0, 128)} not found`);
        this.#fail(e);
      }
      return;
    }
    const room = data.room;
    const needRoom = () => {
      if (typeof room === 'string' && room) return true;
      this.#error('Missing_Fields', `${event} needs data.room`);
      return false;
    };
    switch (event) {
      case 'Create_Room':
        return void this.#rooms.create(this, data.room, data.name).then(
          (v) => this.#server('info', 'Room_Created', { clients: v.clients, name: v.name, roomId: v.room }), (e) => this.#fail(e));
      case 'Join_Room':
        if (needRoom()) this.#rooms.join(this, room).catch((e) => this.#fail(e));
        return;
      case 'Leave_Room':
        if (needRoom()) this.#rooms.leave(this, room).then((v) => this.#server('info', 'Room_Left', { room: v.room }), (e) => this.#fail(e));
        return;
      case 'End_Room':
        if (needRoom()) this.#rooms.end(this, room).catch((e) => this.#fail(e));
        return;
      case 'Room_Message':
        if (needRoom()) this.#rooms.broadcast(this, room, data.data).catch((e) => this.#fail(e));
        return;
      default:
        return this.#error('Unsupported_Event', `event ${event.slice(0, 64)} is not supported`);
    }
  }

  // ------------------------------------------------------------ output

  #server(type: 'info' | 'update' | 'error', event: string, data: unknown): void {
    this.#sock.send({ type, event, data, ...stamp() });
  }

  #error(event: string, message: string): void { this.#server('error', event, { message }); }

  #fail(err: RelayError): void {
    const errorType = errorTypeOf(err);
    if (!errorType) debug('internal error: %s', err?.message);
    // Only a wire error's text reaches the client; anything else is a stable Internal_Error.
    this.#error(connectorErrorEvent(errorType, 'Internal_Error'), errorType ? err?.message ?? '' : 'internal error');
  }
}

function stamp(): { timestamp: string; message_id: string } {
  return { timestamp: new Date().toISOString(), message_id: globalThis.crypto.randomUUID() };
}
