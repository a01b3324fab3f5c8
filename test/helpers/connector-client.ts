/**
 * A minimal Peer2Peer Connector client for tests: a real `ws` socket on
 * loopback, an inbox of server frames, and waiting for the next frame that
 * matches.
 */
import type { Test } from 'tape';
import WebSocket from 'ws';

export interface ConnectorFrame { type?: string; event: string; data: any; from?: string; timestamp?: string; message_id?: string }

export class ConnectorClient {
  readonly ws: WebSocket;
  readonly inbox: ConnectorFrame[] = [];
  id = '';
  #waiters: { pred: (f: ConnectorFrame) => boolean; resolve: (f: ConnectorFrame) => void }[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (d) => {
      const f = JSON.parse(d.toString()) as ConnectorFrame;
      const i = this.#waiters.findIndex((w) => w.pred(f));
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(f);
      else this.inbox.push(f);
    });
  }

  send(frame: unknown): void { this.ws.send(JSON.stringify(frame)); }

  /** The next frame (queued or future) of event `event` that satisfies `pred`. */
  next(event: string, pred: (f: ConnectorFrame) => boolean = () => true, ms = 10_000): Promise<ConnectorFrame> {
    const match = (f: ConnectorFrame) => f.event === event && pred(f);
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const w = { pred: match, resolve: (f: ConnectorFrame) => { clearTimeout(timer); resolve(f); } };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(w), 1);
        reject(new Error(`no ${event} frame in ${ms} ms`));
      }, ms);
      this.#waiters.push(w);
    });
  }
}

/** Connects a Connector client and waits for its Client_Details. */
export async function connector(t: Test, url: string): Promise<ConnectorClient> {
  const c = new ConnectorClient(url);
  t.teardown(() => c.ws.terminate());
  const details = await c.next('Client_Details');
  c.id = details.data.id;
  return c;
}
