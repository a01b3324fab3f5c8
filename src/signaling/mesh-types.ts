/**
 * The signaling mesh's message shapes (PROTOCOL.md §11) and what the mesh
 * side needs of the signaling core (MeshHost).
 */
import type { RosterRecord } from './mesh-records.js';
import type { ClientEvent, KeyInfo } from './types.js';

export type MeshMessage =
  | { t: 'roster'; r: RosterRecord }
  | { t: 'msg'; to: string; from: string; m: unknown; mj?: string; k?: number }
  | { t: 'nf'; to: string; from: string; m?: unknown }
  | { t: 'ping'; n: string }
  | { t: 'pong'; n: string }
  | { t: 'takeover'; id: string; proof: { sk: string; sig: string; msg: string }; fresh?: { ts: number; sig: string } }
  | { t: 'keyreq'; rid: string; to: string }
  | { t: 'keyres'; rid: string; id: string; pk?: string; sk?: string | null; caps?: string[] }
  | { t: 'hello'; caps?: string[]; ask?: 1 }
  | { t: 'caps'; caps?: string[] };

export type MeshExtension = (msg: Record<string, unknown>, fromHex: string) => void;

/** What the mesh side needs of the core. */
export interface MeshHost {
  localIds(): string[];
  /** Key tag and fresh-proof time of each local client, in localIds() order. */
  localEntries(): { tags: string[]; ts: number[] };
  localKeys(clientId: string): KeyInfo | null;
  /** Delivers to a local client; false if there is none. */
  deliver(clientId: string, event: ClientEvent): boolean;
  /** Remote clients left (their home's roster dropped them, or it expired). */
  departed(ids: string[]): void;
  /** Remote clients got a (new) home: messages waiting for them may go. */
  arrived(ids: string[]): void;
  /** Home `to` did not have `to` any more; `m` is the message sent to it (undefined for none). */
  notFound(to: string, from: string, m: unknown, fromHex: string): void;
  /** Node `fromHex` says a client of ours registered there with our client's key; true if done. */
  takeover(msg: Extract<MeshMessage, { t: 'takeover' }>, fromHex: string): boolean;
  /** Home node `hex` did not answer a probe: its roster was dropped. */
  homeDead(hex: string): void;
  extension(t: string): MeshExtension | undefined;
  /** Stops (true) or resumes (false) reading the connections of these local clients: backpressure from the mesh. */
  pauseClients(ids: string[], paused: boolean): void;
}
