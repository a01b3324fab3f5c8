/** relaymesh as another project sees it: ESM import, CommonJS require, shipped types, the socket entry. */
import test from 'tape';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, symlinkSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'relaymesh-user-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'relaymesh'), 'dir');
  return dir;
}

function run(dir: string, args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
}

test("import { PeerRelay } from 'relaymesh' works from another project", (t) => {
  const dir = project();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = run(dir, ['--input-type=module', '-e', `
    import { PeerRelay } from 'relaymesh';
    const p = new PeerRelay({});
    console.log(typeof PeerRelay, p.id.length, Buffer.isBuffer(p.id));
    p.destroy();`]);
  t.equal(out.trim(), 'function 20 true');
  t.end();
});

test("require('relaymesh').PeerRelay works too", (t) => {
  const dir = project();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = run(dir, ['-e', `
    const { PeerRelay } = require('relaymesh');
    const p = new PeerRelay({});
    console.log(typeof PeerRelay, p.id.length);
    p.destroy();`]);
  t.equal(out.trim(), 'function 20');
  t.end();
});

test('types are shipped for the package entries', (t) => {
  t.ok(existsSync(join(root, 'dist/src/index.d.ts')), 'dist/src/index.d.ts');
  t.ok(existsSync(join(root, 'dist/socket/index.d.ts')), 'dist/socket/index.d.ts');
  t.end();
});

test('importing relaymesh has no side effects: no handle, no timer, no global; PeerRelay.Socket is relaymesh/socket\'s Socket', (t) => {
  const dir = project();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const out = run(dir, ['--input-type=module', '-e', `
    const globals = new Set(Object.keys(globalThis));
    const m = await import('relaymesh');
    const s = await import('relaymesh/socket');
    const added = Object.keys(globalThis).filter((k) => !globals.has(k));
    await new Promise((r) => setTimeout(r, 100)); // the module loader's own file reads finish
    console.log(JSON.stringify({
      // The debug package opens process.stderr (a PipeWrap here) when a logger is made; that is the
      // process's own stdio, not a handle of relaymesh's. Timers, sockets and servers would show.
      resources: process.getActiveResourcesInfo().filter((x) => x !== 'PipeWrap' && x !== 'TTYWrap'), added,
      same: m.PeerRelay.Socket === s.Socket && m.Socket === s.Socket,
    }));`]);
  const r = JSON.parse(out.trim()) as { resources: string[]; added: string[]; same: boolean };
  t.deepEqual(r.resources, [], 'no handle or timer is left running by the import');
  t.deepEqual(r.added, [], 'no global is added');
  t.ok(r.same, 'one Socket class, defined by the facade (no patching at import time)');
  t.end();
});
