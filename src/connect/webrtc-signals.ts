/**
 * The signals of WebRTC signaling through the mesh (PROTOCOL.md, "WebRTC
 * signaling"): which simple-peer signals are accepted and how large they may
 * be, and the signals that overtook the offer of their attempt, held briefly
 * until it arrives.
 */
import { BoundedMap } from '../util/bounded-map.js';
import { WEBRTC_LIMITS } from '../util/limits.js';

/** An offer, an answer or one ICE candidate, as simple-peer makes them for a data channel. */
export type Signal =
  | { type: 'offer' | 'answer'; sdp: string }
  | { type?: 'candidate'; candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } };

/** An attempt id: 8 random bytes in hex. */
export const SID = /^[0-9a-f]{16}$/;
const MAX_SDP = WEBRTC_LIMITS.maxSdpLength;
const MAX_CANDIDATE = WEBRTC_LIMITS.maxCandidateLength;
const MAX_SDP_MID = WEBRTC_LIMITS.maxSdpMidLength;

/** Signals for an attempt not yet known (they overtook its offer): sids kept, signals per sid, age. */
const MAX_EARLY_SIDS = WEBRTC_LIMITS.maxEarlySids;
const MAX_EARLY_PER_SID = WEBRTC_LIMITS.maxEarlySignalsPerSid;
const EARLY_AGE_MS = WEBRTC_LIMITS.earlyAgeMs;

/** Accepts only the signals simple-peer makes for a data channel, with bounded sizes. */
export function checkSignal(d: unknown): Signal | null {
  if (!d || typeof d !== 'object') return null;
  const s = d as Record<string, unknown>;
  if (s.type === 'offer' || s.type === 'answer') {
    return typeof s.sdp === 'string' && s.sdp.length <= MAX_SDP ? { type: s.type, sdp: s.sdp } : null;
  }
  if ((s.type === undefined || s.type === 'candidate') && s.candidate && typeof s.candidate === 'object') {
    const c = s.candidate as Record<string, unknown>;
    if (typeof c.candidate !== 'string' || c.candidate.length > MAX_CANDIDATE) return null;
    const sdpMid = typeof c.sdpMid === 'string' && c.sdpMid.length <= MAX_SDP_MID ? c.sdpMid : null;
    const sdpMLineIndex = Number.isInteger(c.sdpMLineIndex) ? c.sdpMLineIndex as number : null;
    return { type: 'candidate', candidate: { candidate: c.candidate, sdpMid, sdpMLineIndex } };
  }
  return null;
}

interface Early { from: string; at: number; signals: Signal[] }

/** Signals that arrived before their attempt's offer, by sid; bounded in sids, signals and age. */
export class EarlySignals {
  /** Oldest first (a sid is set once), so the age sweep stops at the first fresh one. */
  readonly #bySid = new BoundedMap<string, Early>(MAX_EARLY_SIDS);

  /** Holds `d` for `sid` from node `from` (hex); false when it is refused (another sender, too many). */
  stash(sid: string, from: string, d: Signal): boolean {
    const now = Date.now();
    for (const [k, v] of this.#bySid.entries()) if (now - v.at > EARLY_AGE_MS) this.#bySid.delete(k); else break;
    let e = this.#bySid.get(sid);
    if (!e) {
      e = { from, at: now, signals: [] };
      this.#bySid.set(sid, e);
    }
    if (e.from !== from || e.signals.length >= MAX_EARLY_PER_SID) return false;
    e.signals.push(d);
    return true;
  }

  /** The signals held for `sid` from `from`, removed; [] when none. */
  take(sid: string, from: string): Signal[] {
    const e = this.#bySid.get(sid);
    this.#bySid.delete(sid);
    return e && e.from === from ? e.signals : [];
  }

  forget(sid: string): void { this.#bySid.delete(sid); }

  clear(): void { this.#bySid.clear(); }
}
