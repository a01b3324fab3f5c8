/** Browser stand-in for native.ts: no native fast path, noble does everything. */
export type NativeCrypto = typeof import('node:crypto');
export const native: NativeCrypto | null = null;
