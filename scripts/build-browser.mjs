#!/usr/bin/env node
// Builds the browser bundle: browser/index.ts -> dist/browser/relaymesh.js
// (ESM, minified, with a source map) and prints its size, minified and gzipped.
//
// Node-only files are swapped for browser stand-ins, so no Node built-in
// leaks into the bundle; esbuild fails the build if one is still imported:
//   src/crypto/native.ts     -> src/crypto/native-browser.ts (noble does all crypto)
//   src/transport/ws-impl.ts -> src/transport/ws-impl-browser.ts (the browser's WebSocket)
//   src/transport/listener.ts     -> browser/listener-stub.ts (no port in a browser)
//   socket/dgram-base.ts     -> socket/dgram-base-browser.ts (no node:dgram to inherit from)
// src/crypto/pq-wasm.ts is bundled as it is: its liboqs WebAssembly modules
// (@oqs/liboqs-js, ML-KEM-768 and ML-DSA-65 only) go into the same file, wasm
// included (Emscripten's single-file form: the module's bytes in a string
// literal, about 43 and 51 KB), evaluated only when the first ML-KEM or ML-DSA
// operation starts loading them; see liboqsForTheBrowser below.
// simple-peer's dependencies import `buffer` (the npm package, simple-peer's
// own dependency) and read `process.nextTick`; src/session/session-manager.ts calls
// setImmediate: browser/node-globals-shim.ts is injected for those free
// identifiers (process, setImmediate, clearImmediate); no Buffer is injected.
// Usage: node scripts/build-browser.mjs [--no-minify] [--quiet] [--entry file.ts --outfile file.js]
// (--entry/--outfile: another entry built the same way, e.g. bench/browser-pq-entry.ts; no size.json.)
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const entry = arg('--entry') ? resolve(arg('--entry')) : join(root, 'browser/index.ts');
const outfile = arg('--outfile') ? resolve(arg('--outfile')) : join(root, 'dist/browser/relaymesh.js');
const mainBundle = !arg('--outfile');
const minify = !process.argv.includes('--no-minify');
const quiet = process.argv.includes('--quiet');

const ALIASES = new Map([
  [join(root, 'src/crypto/native.ts'), join(root, 'src/crypto/native-browser.ts')],
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

const LIBOQS = join(root, 'node_modules/@oqs/liboqs-js');
/** The two liboqs algorithms relaymesh uses: the package entry pq-wasm.ts imports, its wrapper, its wasm module. */
const LIBOQS_ALGORITHMS = new Map([
  ['@oqs/liboqs-js/kem', { name: 'createMLKEM768', wrapper: 'src/algorithms/kem/ml-kem/ml-kem-768.js', wasm: 'ml-kem-768.min.js' }],
  ['@oqs/liboqs-js/sig', { name: 'createMLDSA65', wrapper: 'src/algorithms/sig/ml-dsa/ml-dsa-65.js', wasm: 'ml-dsa-65.min.js' }],
]);
/**
 * Puts @oqs/liboqs-js's ML-KEM-768 and ML-DSA-65 into the bundle, nothing else of it:
 * - `@oqs/liboqs-js/kem` and `/sig` (what pq-wasm.ts imports, dynamically) resolve to a module that
 *   re-exports only the one factory, so the other ~60 algorithms' wrappers stay out;
 * - each wrapper loads its Emscripten module with `import(modulePath)` (a variable, which a bundler
 *   cannot follow): that becomes an import of the literal path, so esbuild inlines the module (still
 *   evaluated only when the factory runs);
 * - the Emscripten module imports `node:module` only when it runs in Node (`process.versions.node`):
 *   in the bundle that import is a stub that throws, so no Node built-in is bundled (a bundle run in
 *   Node then stays on noble).
 * The build fails if the package no longer looks like this (another liboqs-js version).
 */
const liboqsForTheBrowser = {
  name: 'relaymesh-liboqs-browser',
  setup(b) {
    b.onResolve({ filter: /^@oqs\/liboqs-js\/(kem|sig)$/ }, (args) => ({ path: args.path, namespace: 'liboqs-entry' }));
    b.onLoad({ filter: /.*/, namespace: 'liboqs-entry' }, (args) => {
      const { name, wrapper } = LIBOQS_ALGORITHMS.get(args.path);
      return { contents: `export { ${name} } from ${JSON.stringify(join(LIBOQS, wrapper))};`, resolveDir: LIBOQS, loader: 'js' };
    });
    b.onLoad({ filter: /@oqs[\\/]liboqs-js[\\/]src[\\/]algorithms[\\/]/ }, (args) => {
      const algo = [...LIBOQS_ALGORITHMS.values()].find((a) => args.path === join(LIBOQS, a.wrapper));
      if (!algo) return { errors: [{ text: `unexpected liboqs-js module in the browser bundle: ${args.path}` }] };
      const source = readFileSync(args.path, 'utf8');
      const dynamic = 'await import(modulePath)';
      if (source.split(dynamic).length !== 2) return { errors: [{ text: `${args.path}: no single \`${dynamic}\` to make static (liboqs-js changed?)` }] };
      return { contents: source.replace(dynamic, `await import(${JSON.stringify(`../../../../dist/${algo.wasm}`)})`), loader: 'js' };
    });
    b.onResolve({ filter: /^node:module$/ }, (args) => (args.importer.startsWith(join(LIBOQS, 'dist') + '/')
      ? { path: 'node:module', namespace: 'liboqs-node-stub' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'liboqs-node-stub' }, () => ({
      contents: "export function createRequire() { throw new Error('liboqs: node:module is not in the browser bundle'); }", loader: 'js',
    }));
  },
};

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  minify,
  sourcemap: true,
  metafile: true,
  legalComments: 'eof',
  // liboqs' wasm is a string literal of bytes 0-255: as UTF-8 it is 17 % smaller than with \x escapes
  // (an ES module is always read as UTF-8).
  charset: 'utf8',
  plugins: [liboqsForTheBrowser, browserAliases],
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
  const key = m ? m[1] : path.includes(':') ? path.split(':')[0] : path.split('/')[0]; // a plugin namespace: its name
  byPackage[key] = (byPackage[key] ?? 0) + bytesInOutput;
}
const file = relative(root, outfile);
const report = { file, bytes: code.length, gzipBytes: gz, minified: minify, inputs: inputs.length, byPackage };
if (mainBundle) writeFileSync(join(root, 'dist/browser/size.json'), JSON.stringify(report, null, 2) + '\n');
if (!quiet) console.log(`${file}: ${(code.length / 1024).toFixed(1)} KiB${minify ? ' minified' : ''}, ${(gz / 1024).toFixed(1)} KiB gzipped (${inputs.length} inputs)`);
