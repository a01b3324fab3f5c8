#!/usr/bin/env node
// Builds the browser bundle: browser/index.ts -> dist/browser/relaymesh.js
// (ESM, minified, with a source map) and prints its size, minified and gzipped.
//
// Node-only files are swapped for browser stand-ins, so no Node built-in
// leaks into the bundle; esbuild fails the build if one is still imported:
//   src/crypto/native.ts     -> src/crypto/native-browser.ts (noble does all crypto)
//   src/crypto/pq-wasm.ts    -> src/crypto/pq-wasm-browser.ts (noble's ML-KEM and ML-DSA, no liboqs WebAssembly)
//   src/transport/ws-impl.ts -> src/transport/ws-impl-browser.ts (the browser's WebSocket)
//   src/transport/listener.ts     -> browser/listener-stub.ts (no port in a browser)
//   socket/dgram-base.ts     -> socket/dgram-base-browser.ts (no node:dgram to inherit from)
// simple-peer's dependencies import `buffer` (the npm package, simple-peer's
// own dependency) and read `process.nextTick`; src/session/session-manager.ts calls
// setImmediate: browser/node-globals-shim.ts is injected for those free
// identifiers (process, setImmediate, clearImmediate); no Buffer is injected.
// Usage: node scripts/build-browser.mjs [--no-minify] [--quiet]
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outfile = join(root, 'dist/browser/relaymesh.js');
const minify = !process.argv.includes('--no-minify');
const quiet = process.argv.includes('--quiet');

const ALIASES = new Map([
  [join(root, 'src/crypto/native.ts'), join(root, 'src/crypto/native-browser.ts')],
  [join(root, 'src/crypto/pq-wasm.ts'), join(root, 'src/crypto/pq-wasm-browser.ts')],
  [join(root, 'src/transport/ws-impl.ts'), join(root, 'src/transport/ws-impl-browser.ts')],
  [join(root, 'src/transport/listener.ts'), join(root, 'browser/listener-stub.ts')],
  [join(root, 'socket/dgram-base.ts'), join(root, 'socket/dgram-base-browser.ts')],
]);
/** Swaps Node-only source files for their browser stand-ins. */
const browserAliases = {
  name: 'relaymesh-browser-aliases',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
      const target = resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts');
      const alias = ALIASES.get(target);
      return alias ? { path: alias } : undefined;
    });
    // Anything else that names a Node built-in (node:crypto, http...) fails to
    // resolve for platform 'browser' and stops the build. Packages of the same
    // name installed in node_modules (events, buffer) are browser code.
    b.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `Node built-in "${args.path}" imported by ${args.importer}: it must not reach the browser bundle` }],
    }));
  },
};

const result = await build({
  entryPoints: [join(root, 'browser/index.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  minify,
  sourcemap: true,
  metafile: true,
  legalComments: 'eof',
  plugins: [browserAliases],
  // readable-stream (under simple-peer) reads `process` and `global`; sessions.ts setImmediate.
  inject: [join(root, 'browser/node-globals-shim.ts')],
  define: { global: 'globalThis' },
  logLevel: 'warning',
});

const code = readFileSync(outfile);
const gz = gzipSync(code, { level: 9 }).length;
mkdirSync(dirname(outfile), { recursive: true });
const inputs = Object.keys(result.metafile.inputs);
// Where the bytes come from, by package (or src/ for relaymesh's own code).
const byPackage = {};
for (const [path, { bytesInOutput }] of Object.entries(result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('.js'))].inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  const key = m ? m[1] : path.split('/')[0];
  byPackage[key] = (byPackage[key] ?? 0) + bytesInOutput;
}
const report = { file: 'dist/browser/relaymesh.js', bytes: code.length, gzipBytes: gz, minified: minify, inputs: inputs.length, byPackage };
writeFileSync(join(root, 'dist/browser/size.json'), JSON.stringify(report, null, 2) + '\n');
if (!quiet) console.log(`dist/browser/relaymesh.js: ${(code.length / 1024).toFixed(1)} KiB${minify ? ' minified' : ''}, ${(gz / 1024).toFixed(1)} KiB gzipped (${inputs.length} inputs)`);
