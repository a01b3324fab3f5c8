import test from 'tape';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, DEFAULT_LIMITS } from '../src/index.js';
import { LIMIT_GROUPS } from '../src/util/limits.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README lists every error code, and no code that does not exist', (t) => {
  const section = readme.slice(readme.indexOf('\n## Errors\n'), readme.indexOf('\n## ', readme.indexOf('\n## Errors\n') + 5));
  const listed = new Set([...section.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  for (const code of Object.keys(ERROR_CODES)) t.ok(listed.has(code), `${code} is in the README`);
  for (const code of listed) t.ok(code in ERROR_CODES, `${code} in the README exists in ERROR_CODES`);
  t.end();
});

test("the README's one limits table gives every default of every group as the code has it, and nothing else", (t) => {
  const section = readme.slice(readme.indexOf('\n## Limits\n'), readme.indexOf('\n## ', readme.indexOf('\n## Limits\n') + 5));
  const rows = new Map([...section.matchAll(/^\| ([a-z]+) \| `([a-zA-Z]+)` \| (\d+) \| \S/gm)].map((m) => [`${m[1]}.${m[2]}`, Number(m[3])]));
  const groups = LIMIT_GROUPS as Record<string, Record<string, number>>;
  t.equal(groups.node, DEFAULT_LIMITS, 'the node group is DEFAULT_LIMITS');
  let n = 0;
  for (const [group, defaults] of Object.entries(groups)) {
    for (const [k, v] of Object.entries(defaults)) {
      n++;
      t.equal(rows.get(`${group}.${k}`), v, `${group} ${k} = ${v}`);
    }
  }
  for (const row of rows.keys()) {
    const [group, k] = row.split('.');
    t.ok(groups[group] !== undefined && k in groups[group], `README row ${row} is a limit in src/util/limits.ts`);
  }
  t.equal(rows.size, n, 'one row per limit');
  t.end();
});

test('the README opens with the two commands', (t) => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  t.match(firstBlock, /^npm install && npm start/m, 'install and start a node');
  t.match(firstBlock, /^npm install && npm test/m, 'install and test');
  t.end();
});

test('the Socket and WebRTC sections link to the one limits table and hold no limits table of their own', (t) => {
  for (const title of ['## PeerRelay.Socket: node:dgram over the mesh', '## WebRTC links and `connect(id)`']) {
    const start = readme.indexOf(`\n${title}\n`);
    t.ok(start >= 0, `${title} exists`);
    const section = readme.slice(start, readme.indexOf('\n## ', start + 5));
    t.match(section, /\[limits table\]\(#limits\)/, `${title} links to the limits table`);
    t.doesNotMatch(section, /^\| (limit|what) \| default \|/m, `${title} has no limits table of its own`);
  }
  t.end();
});
