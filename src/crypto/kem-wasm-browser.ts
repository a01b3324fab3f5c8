/** Browser stand-in for kem-wasm.ts: no WebAssembly backend in the bundle, noble does ML-KEM. */
import type { WasmKem } from './kem-wasm.js';

export type { WasmKem };
export function loadWasmKem(): Promise<WasmKem | null> { return Promise.resolve(null); }
export function wasmKem(): WasmKem | null { return null; }
