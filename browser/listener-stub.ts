/**
 * Browser stand-in for src/transport/listener.ts: a browser cannot accept
 * connections, so a node there has no port. The bundle aliases listener.ts to
 * this file so node:http and ws's server never reach it.
 */
export interface UpgradeRoute { name: string; priority: number; protocol?: string; maxPayload: number }
export type RequestHandler = (req: unknown, res: unknown) => boolean;

export class Listener {
  constructor() {
    throw new TypeError('opts.port is not supported in browsers: a browser node cannot listen; omit port and use bootstrap');
  }

  listen(_port: number, _host: string): Promise<never> { return Promise.reject(new TypeError('no listener in browsers')); }
  addRoute(_route: UpgradeRoute): void { /* unreachable */ }
  addRequestHandler(_fn: RequestHandler): void { /* unreachable */ }
  *clients(): Iterable<never> { /* none */ }
  close(): Promise<void> { return Promise.resolve(); }
}

/** A browser node never listens, so it has no URL to advertise. */
export function advertisedUrl(_address: string, _port: number): string { return ''; }
