/** Browser stand-in for dgram-base.ts: no node:dgram, so no prototype to pass through. */
export const dgramSocketPrototype: object | null = null;
