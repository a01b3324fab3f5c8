import test from 'tape';
import { readFileSync } from 'node:fs';
import { SIGNALING_DROP_REASONS } from '../../src/util/drop-reasons.js';
import { Channel } from '../../src/index.js';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The reasons in the README's table of dropped signaling mesh input. */
function listedReasons(): Set<string> {
  const start = readme.indexOf('\n### Dropped mesh input (signaling)\n');
  const end = readme.indexOf('\n### ', start + 5);
  if (start < 0 || end < 0) return new Set();
  return new Set([...readme.slice(start, end).matchAll(/^\| `([a-z][a-z0-9_]*)` \|/gm)].map((m) => m[1]));
}

test('the README lists every signaling drop reason, and no reason that does not exist', (t) => {
  const listed = listedReasons();
  t.ok(listed.size > 0, 'the table is found');
  for (const reason of Object.keys(SIGNALING_DROP_REASONS)) t.ok(listed.has(reason), `${reason} is in the README`);
  for (const reason of listed) t.ok(reason in SIGNALING_DROP_REASONS, `${reason} in the README is a SignalingDropReason`);
  t.end();
});

test('bad mesh signaling input is dropped and counted by its reason, never thrown', async (t) => {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { port: 0, bootstrap: [urlOf(a)], ...FAST });
  await waitFor(() => a.peers.length === 1 && b.peers.length === 1);
  const send = (text: string) => b.sendOnChannel(a.id, Channel.SIGNALING, new TextEncoder().encode(text));
  send('not json');
  send('{"t":"batch","lens":[5]}\nabc');
  send('{"t":"keyres","rid":"00","id":"x"}');
  send('{"t":"msg","to":"bob","from":"mallory","m":{}}');
  send('{"t":"no-such-type"}');
  send('{"t":"roster","r":{"v":1}}');
  await waitFor(() => Object.keys(a.signaling!.stats().dropped).length >= 6);
  const dropped = a.signaling!.stats().dropped;
  t.equal(dropped.bad_json, 1, 'bad_json');
  t.equal(dropped.bad_batch, 1, 'bad_batch');
  t.equal(dropped.unexpected_keyres, 1, 'unexpected_keyres');
  t.equal(dropped.unlisted_sender, 1, 'unlisted_sender');
  t.equal(dropped.unknown_type, 1, 'unknown_type');
  t.equal(dropped.roster_invalid, 1, 'roster_invalid');
  for (const reason of Object.keys(dropped)) t.ok(reason in SIGNALING_DROP_REASONS, `${reason} is a SignalingDropReason`);
});
