/**
 * `npm run bench`: runs every benchmark in dist/bench/ that exports `run()`,
 * in a fixed order first (relay, crypto, session), then any others found
 * (webrtc, socket, signaling, browser...). A benchmark that is missing is
 * skipped; one that fails is reported and the rest still run.
 *
 *   node dist/bench/run.js [name ...]     e.g. node dist/bench/run.js relay crypto
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const ORDER = ['relay', 'crypto', 'session', 'flow', 'webrtc', 'socket', 'signaling', 'browser'];

export function discover(dir: string): string[] {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith('.js') && f !== 'run.js')
    .map((f) => f.slice(0, -3));
  const rank = (n: string) => (ORDER.includes(n) ? ORDER.indexOf(n) : ORDER.length);
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export async function main(args: string[]): Promise<number> {
  const dir = dirname(fileURLToPath(import.meta.url));
  const found = discover(dir);
  for (const want of args) if (!found.includes(want)) console.log(`(no benchmark named '${want}' in ${dir}; skipped)`);
  const names = args.length ? found.filter((n) => args.includes(n)) : found;
  let failed = 0;
  const summary: string[] = [];
  for (const name of names) {
    let mod: { run?: () => unknown };
    try {
      mod = await import(pathToFileURL(join(dir, `${name}.js`)).href);
    } catch (err) {
      console.log(`\n## ${name}: could not load (${(err as Error).message}); skipped`);
      summary.push(`${name}: not loaded`);
      continue;
    }
    if (typeof mod.run !== 'function') continue;
    console.log(`\n## ${name}\n`);
    const t0 = Date.now();
    try {
      await mod.run();
      summary.push(`${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      failed++;
      console.error(`${name} failed:`, err);
      summary.push(`${name}: FAILED`);
    }
  }
  console.log(`\nbenchmarks: ${summary.join('; ') || 'none found'}`);
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
    // A benchmark that leaks a handle must not hang the run; this timer does not keep the process alive itself.
    setTimeout(() => process.exit(code), 3000).unref();
  }, (err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
