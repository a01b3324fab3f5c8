/** Browser stand-in for kem-wasm.ts: no WebAssembly backend in the bundle, noble does ML-KEM. */
import type { WasmKem } from './kem-wasm.js';

export type { WasmKem };
export const wasmKem: WasmKem | null = null;
