/**
 * Node's native crypto, used as a fast path. The browser bundle aliases this
 * file to native-browser.ts, which exports null, so no Node built-in leaks.
 */
import * as nodeCrypto from 'node:crypto';

export type NativeCrypto = typeof nodeCrypto;
export const native: NativeCrypto | null = nodeCrypto;
