/**
 * The layering (README "Architecture", .dependency-cruiser.cjs) is part of
 * the test suite: an import cycle or an upward import fails `npm test`.
 */
import test from 'tape';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, copyFileSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const bin = join(root, 'node_modules/.bin/depcruise');
const config = join(root, '.dependency-cruiser.cjs');

interface Violation { rule: { name: string }; from: string; to: string }
function cruise(cwd: string, dirs: string[]): Violation[] {
  const r = spawnSync(bin, [...dirs, '--config', config, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (!r.stdout) throw new Error(`depcruise printed nothing: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

test('the source tree has no import cycle and no upward import', (t) => {
  const violations = cruise(root, ['src', 'socket', 'bootstrap', 'browser']);
  t.deepEqual(violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`), [], 'no violations');
  t.end();
});

test('the layering check catches an upward type import and a cycle', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'relaymesh-layers-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(root, 'tsconfig.json'), join(dir, 'tsconfig.json'));
  mkdirSync(join(dir, 'src/routing'), { recursive: true });
  mkdirSync(join(dir, 'src/signaling'), { recursive: true });
  writeFileSync(join(dir, 'src/peer-relay.ts'), "export class PeerRelay {}\n");
  writeFileSync(join(dir, 'src/index.ts'), "export * from './peer-relay.js';\nexport * from './routing/router.js';\nexport * from './signaling/a.js';\n");
  writeFileSync(join(dir, 'src/routing/router.ts'), "import type { PeerRelay } from '../peer-relay.js';\nexport type R = PeerRelay;\n");
  writeFileSync(join(dir, 'src/signaling/a.ts'), "import type { B } from './b.js';\nexport type A = { b?: B };\n");
  writeFileSync(join(dir, 'src/signaling/b.ts'), "import type { A } from './a.js';\nexport type B = { a?: A };\n");
  const rules = new Set(cruise(dir, ['src']).map((v) => v.rule.name));
  t.ok(rules.has('no-upward-from-routing'), 'routing -> facade (a type import) is refused');
  t.ok(rules.has('no-cycle'), 'a type-only cycle is refused');
  t.end();
});

/** STYLE.md: one concern per file; a file past ~500 lines is split along a seam with an interface of its own. */
const MAX_SOURCE_LINES = 500;

test(`no source file in src/, socket/, bootstrap/ or browser/ passes ${MAX_SOURCE_LINES} lines`, (t) => {
  const long: string[] = [];
  let files = 0;
  for (const dir of ['src', 'socket', 'bootstrap', 'browser']) {
    for (const name of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
      if (!/\.(ts|js|mjs)$/.test(name)) continue;
      files++;
      const text = readFileSync(join(root, dir, name), 'utf8');
      let lines = 0;
      for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++; // as wc -l counts
      if (lines > MAX_SOURCE_LINES) long.push(`${dir}/${name}: ${lines} lines`);
    }
  }
  t.ok(files > 100, `${files} source files read`);
  t.deepEqual(long, [], 'split such a file along a seam with an interface of its own (STYLE.md)');
  t.end();
});
