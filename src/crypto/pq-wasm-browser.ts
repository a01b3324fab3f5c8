/** Browser stand-in for pq-wasm.ts: no WebAssembly backend in the bundle, noble does ML-KEM and ML-DSA. */
import type { WasmDsa, WasmKem } from './pq-wasm.js';

export type { WasmDsa, WasmKem };
export function loadWasm(): Promise<void> { return Promise.resolve(); }
export function wasmKem(): WasmKem | null { return null; }
export function wasmDsa(): WasmDsa | null { return null; }
export function plain(bytes: Uint8Array): Uint8Array { return bytes; }
