/**
 * Frames written to one WebSocket close together leave in one socket write
 * (one system call instead of one per frame): the first write corks the
 * socket under a `ws` WebSocket, and it is uncorked at the end of this turn
 * (`'turn'`: a microtask, after the synchronous work that wrote) or on the
 * event loop's next check phase (`'immediate'`: after awaited writes too, as a
 * client that awaits each send makes). A WebSocket without a Node socket (a
 * browser's) is left as it is.
 */
type Corkable = { cork(): void; uncork(): void };

const corked = new WeakSet<Corkable>();
const later = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;

/** Corks the socket under `ws` (if it has one and it is not corked already) until `until`. */
export function corkSocket(ws: unknown, until: 'turn' | 'immediate' = 'turn'): void {
  const socket = (ws as { _socket?: Corkable | null })._socket;
  if (!socket || typeof socket.cork !== 'function' || corked.has(socket)) return;
  corked.add(socket);
  socket.cork();
  const uncork = (): void => { corked.delete(socket); socket.uncork(); };
  if (until === 'immediate' && typeof later === 'function') later(uncork);
  else queueMicrotask(uncork);
}
