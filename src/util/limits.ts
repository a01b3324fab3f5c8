/**
 * Every buffer, queue, cache and count has a finite default, listed here and
 * in the README's limits table (a test keeps the two in step).
 */
export const DEFAULT_LIMITS = {
  /** Largest `send` payload in bytes (after JSON encoding). */
  maxMessageSize: 4 * 1024 * 1024,
  /** Most open links (the routing table's capacity). */
  maxLinks: 256,
  /** Links a node tries to keep by discovery. */
  targetLinks: 8,
  /** Outgoing dials in progress at once. */
  maxDialing: 4,
  /** Known-but-unlinked nodes remembered for discovery. */
  maxContacts: 512,
  /** Messages waiting for one destination's session. */
  maxQueuePerPeer: 1024,
  /** Messages waiting for sessions, all destinations. */
  maxQueueTotal: 8192,
  /** Message ids remembered for duplicate suppression. */
  dedupEntries: 65536,
  /** How long a message id is remembered (ms). */
  dedupAgeMs: 120_000,
  /** End-to-end sessions held at once. */
  maxSessions: 4096,
  /** Public keys cached. */
  maxKeys: 8192,
  /** Hop limit of a routed message. */
  ttl: 32,
  /** Link handshake time limit (ms). */
  handshakeTimeoutMs: 10_000,
  /** End-to-end session set-up time limit (ms). */
  sessionTimeoutMs: 10_000,
  /** Queued messages fail after this long even with no links (ms). */
  queueTimeoutMs: 60_000,
  /** Keepalive period (ms). */
  pingIntervalMs: 10_000,
  /** A link silent this long is closed (ms). */
  linkTimeoutMs: 30_000,
  /** Discovery refresh period (ms). */
  refreshIntervalMs: 30_000,
  /** Idle end-to-end sessions are dropped after (ms). */
  sessionIdleMs: 10 * 60_000,
  /** connect(id) time limit (ms). */
  connectTimeoutMs: 15_000,
  /** Bytes a link's transport may hold unsent before frames on it are dropped (and reported). */
  maxLinkBuffer: 8 * 1024 * 1024,
  /** End-to-end handshakes answered per second for one sender id. */
  maxHandshakesPerSecond: 20,
  /** Longest wait between re-bootstrap attempts (ms). */
  maxBackoffMs: 30_000,
} as const;

export type Limits = { -readonly [K in keyof typeof DEFAULT_LIMITS]: number };

/**
 * `defaults` overridden by the numeric options in `opts` that name one of
 * them; each must be a positive number (RangeError naming `prefix.key`).
 */
export function resolveLimits<T extends Record<string, number>>(defaults: T, opts: Partial<Record<keyof T, unknown>>, prefix: string): { -readonly [K in keyof T]: number } {
  const out = { ...defaults } as { -readonly [K in keyof T]: number };
  for (const k of Object.keys(defaults) as (keyof T)[]) {
    const v = opts[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`${prefix}.${String(k)} must be a positive number`);
    out[k] = v;
  }
  return out;
}

/** Bytes a frame may exceed the largest message by (envelope, session header, tag, channel). */
export const FRAME_OVERHEAD = 1024;
