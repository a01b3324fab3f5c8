/** The README's quick start, word for word, run from another project (it uses port 8001, hence serial). */
import test from 'tape';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

test("the README's quick start delivers its message", (t) => {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const snippet = /## Quick start\s+```js\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(snippet, 'the quick start has a js block');
  const dir = mkdtempSync(join(tmpdir(), 'relaymesh-readme-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'relaymesh'), 'dir');
  // The snippet as written, plus an exit once c has printed its message.
  writeFileSync(join(dir, 'quickstart.mjs'), `${snippet}
c.on('message', () => setTimeout(() => process.exit(0), 50))
setTimeout(() => { console.error('no message'); process.exit(1) }, 15000)
`);
  const out = execFileSync(process.execPath, ['quickstart.mjs'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });
  t.match(out, /\{ hello: 'world' \} from [0-9a-f]{40}/, `prints the message and the sender id (${out.trim()})`);
  t.end();
});
