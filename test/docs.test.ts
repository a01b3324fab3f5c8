import test from 'tape';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, DEFAULT_LIMITS } from '../src/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README lists every error code, and no code that does not exist', (t) => {
  const section = readme.slice(readme.indexOf('\n## Errors\n'), readme.indexOf('\n## ', readme.indexOf('\n## Errors\n') + 5));
  const listed = new Set([...section.matchAll(/^\| `(ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  for (const code of Object.keys(ERROR_CODES)) t.ok(listed.has(code), `${code} is in the README`);
  for (const code of listed) t.ok(code in ERROR_CODES, `${code} in the README exists in ERROR_CODES`);
  t.end();
});

test("the README's limits table gives every default as the code has it", (t) => {
  const section = readme.slice(readme.indexOf('\n## Limits\n'), readme.indexOf('\n## ', readme.indexOf('\n## Limits\n') + 5));
  const rows = new Map([...section.matchAll(/^\| `([a-zA-Z]+)` \| (\d+) \|/gm)].map((m) => [m[1], Number(m[2])]));
  for (const [k, v] of Object.entries(DEFAULT_LIMITS)) t.equal(rows.get(k), v, `${k} = ${v}`);
  t.end();
});

test('the README opens with the two commands', (t) => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  t.match(firstBlock, /^npm install && npm start/m, 'install and start a node');
  t.match(firstBlock, /^npm install && npm test/m, 'install and test');
  t.end();
});
