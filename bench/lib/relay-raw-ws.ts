/**
 * The baseline: a raw `ws` relay of the same shape. A is a ws server on
 * loopback that forwards every frame from B to C and back unchanged; B and C
 * are plain clients. No identity, routing, or encryption. The forwarder and
 * the two ends are also used with A in a process of its own (relay-child.ts,
 * relay-process.ts).
 */
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import { once, type End, type RelayShape } from './relay-shape.js';

/** Makes `wss` forward each frame from the client at /B to the one at /C and back; the map holds them by name. */
export function forwardBetweenEnds(wss: WebSocketServer): Map<string, WebSocket> {
  const byName = new Map<string, WebSocket>();
  wss.on('connection', (ws, req) => {
    const me = req.url === '/B' ? 'B' : 'C';
    const other = me === 'B' ? 'C' : 'B';
    byName.set(me, ws);
    ws.on('message', (data: RawData, isBinary: boolean) => byName.get(other)?.send(data as Buffer, { binary: isBinary }));
  });
  return byName;
}

/** Dials B and C to the forwarder at `url`: the shape's send and receive, and the two client sockets. */
export async function rawEnds(url: string): Promise<Pick<RelayShape, 'send' | 'onReceive'> & { sockets: WebSocket[] }> {
  const dial = async (name: End) => {
    const ws = new WebSocket(`${url}/${name}`, { perMessageDeflate: false });
    await once(ws, 'open');
    return ws;
  };
  const ends = { B: await dial('B'), C: await dial('C') };
  const handlers: Record<End, (p: unknown) => void> = { B: () => {}, C: () => {} };
  for (const at of ['B', 'C'] as const) {
    ends[at].on('message', (data: RawData, isBinary: boolean) => handlers[at](isBinary ? data : JSON.parse(String(data))));
  }
  return {
    send: (from, payload) => {
      if (payload instanceof Uint8Array) ends[from].send(payload, { binary: true });
      else ends[from].send(JSON.stringify(payload));
    },
    onReceive: (at, cb) => { handlers[at] = cb; },
    sockets: [ends.B, ends.C],
  };
}

export async function startRawWs(): Promise<RelayShape> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await once(wss, 'listening');
  const byName = forwardBetweenEnds(wss);
  const ends = await rawEnds(`ws://127.0.0.1:${(wss.address() as { port: number }).port}`);
  while (byName.size < 2) await new Promise((r) => setTimeout(r, 5));
  return {
    name: 'raw ws relay',
    send: ends.send,
    onReceive: ends.onReceive,
    close: async () => {
      for (const ws of ends.sockets) ws.terminate();
      for (const ws of byName.values()) ws.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
