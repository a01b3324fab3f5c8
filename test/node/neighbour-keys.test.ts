/**
 * The policy for a new link's keys (PROTOCOL.md §5.1): kept for a node's first
 * targetLinks links, with an encapsulation made ahead for the first
 * AHEAD_LINKS only while few link handshakes are in progress.
 */
import test from 'tape';
import { AHEAD_LINKS, AHEAD_MAX_LOAD, LinkKeysUse, linkKeysUse } from '../../src/node/neighbour-keys.js';
import { DEFAULT_LIMITS } from '../../src/util/limits.js';

test('the first AHEAD_LINKS links get an encapsulation made ahead, later ones up to targetLinks are kept, the rest dropped', (t) => {
  const limits = { targetLinks: 8, busyHandshakes: 256 };
  const uses = Array.from({ length: 10 }, (_, i) => linkKeysUse(i + 1, 0, limits));
  t.deepEqual(uses, [
    ...Array(AHEAD_LINKS).fill(LinkKeysUse.AHEAD),
    ...Array(limits.targetLinks - AHEAD_LINKS).fill(LinkKeysUse.KEEP),
    LinkKeysUse.DROP, LinkKeysUse.DROP,
  ]);
  t.end();
});

test('no encapsulation is made ahead while the process forms many links; the keys are kept all the same', (t) => {
  const limits = { targetLinks: 8, busyHandshakes: 256 };
  const busy = AHEAD_MAX_LOAD * limits.busyHandshakes;
  t.equal(linkKeysUse(1, busy - 1, limits), LinkKeysUse.AHEAD, 'just under the load: ahead');
  t.equal(linkKeysUse(1, busy, limits), LinkKeysUse.KEEP, 'at the load: kept only');
  t.equal(linkKeysUse(limits.targetLinks + 1, busy, limits), LinkKeysUse.DROP, 'past targetLinks: dropped');
  t.end();
});

test('targetLinks below AHEAD_LINKS bounds what is kept, ahead or not', (t) => {
  const limits = { ...DEFAULT_LIMITS, targetLinks: 1 };
  t.equal(linkKeysUse(1, 0, limits), LinkKeysUse.AHEAD);
  t.equal(linkKeysUse(2, 0, limits), LinkKeysUse.DROP, 'the second link is past targetLinks');
  t.end();
});
