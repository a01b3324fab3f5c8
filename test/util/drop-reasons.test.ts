import test from 'tape';
import { readFileSync } from 'node:fs';
import { DROP_REASONS } from '../../src/util/drop-reasons.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The README's paragraph listing the drop reasons: from its first words to the detours that follow it. */
function listedReasons(): Set<string> {
  const start = readme.indexOf('Inputs dropped by a node are counted by reason');
  const end = readme.indexOf('Detours are not drops', start);
  if (start < 0 || end < 0) return new Set();
  const paragraph = readme.slice(start, end);
  return new Set([...paragraph.matchAll(/`([a-z][a-z0-9_]*)`/g)].map((m) => m[1]));
}

test('the README lists every drop reason, and no reason that does not exist', (t) => {
  const listed = listedReasons();
  t.ok(listed.size > 0, 'the paragraph is found');
  for (const reason of Object.keys(DROP_REASONS)) t.ok(listed.has(reason), `${reason} is in the README`);
  for (const reason of listed) t.ok(reason in DROP_REASONS, `${reason} in the README is a DropReason`);
  t.end();
});

test('every drop reason has a description and a snake_case name', (t) => {
  for (const [reason, what] of Object.entries(DROP_REASONS)) {
    t.match(reason, /^[a-z][a-z0-9_]*$/, `${reason} is snake_case`);
    t.ok(typeof what === 'string' && what.length > 0, `${reason} is described`);
  }
  t.end();
});
