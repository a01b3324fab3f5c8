/** The B -> A -> C shape every relay system under test is driven through. */
export type End = 'B' | 'C';

export interface RelayShape {
  readonly name: string;
  /** Sends bytes or a JSON-serializable object from one end node to the other, through A. */
  send(from: End, payload: Uint8Array | object): void;
  /** Sets the one receiver at an end node (bytes arrive as Uint8Array, JSON as the parsed value). */
  onReceive(at: End, cb: (payload: unknown) => void): void;
  /** Closes every socket and server of the shape. */
  close(): Promise<void>;
}

/** Waits for `emitter` to emit `event` once, or rejects after `ms`. */
export function once(emitter: { once(e: string, fn: (...a: any[]) => void): unknown; removeListener(e: string, fn: (...a: any[]) => void): unknown },
  event: string, ms = 10_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { emitter.removeListener(event, on); reject(new Error(`no '${event}' in ${ms} ms`)); }, ms);
    function on(...args: unknown[]) { clearTimeout(timer); resolve(args); }
    emitter.once(event, on);
  });
}
