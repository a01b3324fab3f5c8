/**
 * The node's identity on disk: `<dataDir>/identity.json`, made on first start
 * and read on every later one, so the id survives restarts. The file holds the
 * key seeds, so it is written owner-only (0600) in an owner-only directory,
 * atomically (temporary file + rename) so a crash never leaves half a key.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Identity } from '../src/crypto/identity.js';

export const IDENTITY_FILE = 'identity.json';

export interface LoadedIdentity {
  identity: Identity;
  /** Absolute path of the identity file. */
  path: string;
  /** True when this call made a new identity. */
  created: boolean;
}

/** Reads `<dataDir>/identity.json`, or makes and saves a fresh identity if there is none. */
export function loadOrCreateIdentity(dataDir: string): LoadedIdentity {
  if (typeof dataDir !== 'string' || dataDir === '') throw new TypeError('dataDir must be a non-empty path');
  const dir = resolve(dataDir);
  const path = join(dir, IDENTITY_FILE);
  let text: string | null = null;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== null) {
    let identity: Identity;
    try {
      identity = Identity.fromJSON(text);
    } catch (err) {
      // Never overwrite a key file we cannot read: the operator decides.
      throw new Error(`${path} is not a relaymesh identity (${(err as Error).message}); move it away to make a new one`);
    }
    return { identity, path, created: false };
  }
  const identity = Identity.generate();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(identity.toJSON(), null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  renameSync(tmp, path);
  return { identity, path, created: true };
}
