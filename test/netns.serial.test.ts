/**
 * Nodes on two hosts: network namespaces this test makes itself, joined by a
 * veth pair (10.77.0.1 <-> 10.77.0.2). The hub listens on its own interface
 * address; two port-less nodes in the other namespace join through it and
 * talk across the link. Needs root and iproute2; skipped (no assertion, so not
 * counted as passing) where namespaces cannot be made.
 */
import test from 'tape';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

const HELPER = fileURLToPath(new URL('./helpers/netns-node.js', import.meta.url));
const NS_A = `rmtest-a-${process.pid}`;
const NS_B = `rmtest-b-${process.pid}`;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'ignore' });
}

function makeHosts(): boolean {
  try {
    ip('netns', 'add', NS_A);
    ip('netns', 'add', NS_B);
    ip('link', 'add', 'rmva', 'netns', NS_A, 'type', 'veth', 'peer', 'name', 'rmvb', 'netns', NS_B);
    ip('-n', NS_A, 'addr', 'add', '10.77.0.1/24', 'dev', 'rmva');
    ip('-n', NS_B, 'addr', 'add', '10.77.0.2/24', 'dev', 'rmvb');
    for (const [ns, dev] of [[NS_A, 'rmva'], [NS_B, 'rmvb']]) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    return true;
  } catch {
    removeHosts();
    return false;
  }
}

function removeHosts(): void {
  for (const ns of [NS_A, NS_B]) { try { ip('netns', 'del', ns); } catch { /* not there */ } }
}

function run(ns: string, args: string[]): { child: ChildProcess; next: (pred: (o: any) => boolean, ms?: number) => Promise<any> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, HELPER, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const seen: any[] = [];
  const waiters: { pred: (o: any) => boolean; resolve: (o: any) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let o: any;
    try { o = JSON.parse(line); } catch { return; }
    seen.push(o);
    for (const w of [...waiters]) if (w.pred(o)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(o); }
  });
  const next = (pred: (o: any) => boolean, ms = 20_000) => new Promise<any>((resolve, reject) => {
    const hit = seen.find(pred);
    if (hit) return resolve(hit);
    const timer = setTimeout(() => reject(new Error(`no matching line from ${args[0]} in ${ms} ms`)), ms);
    waiters.push({ pred, resolve: (o) => { clearTimeout(timer); resolve(o); } });
  });
  return { child, next };
}

test('nodes in two network namespaces link over a veth pair and relay across it', async (t) => {
  if (!makeHosts()) {
    t.skip('cannot create network namespaces here (needs root and iproute2)');
    return;
  }
  const children: ChildProcess[] = [];
  t.teardown(() => {
    for (const c of children) { c.stdin?.end(); c.kill('SIGTERM'); }
    removeHosts();
  });
  const hub = run(NS_A, ['hub', '10.77.0.1', '7741']);
  children.push(hub.child);
  const started = await hub.next((o) => 'hub' in o || 'error' in o);
  t.equal(started.url, 'ws://10.77.0.1:7741', 'the hub advertises its interface address, not localhost');
  const pair = run(NS_B, ['pair', started.url]);
  children.push(pair.child);
  const result = await pair.next((o) => 'delivered' in o);
  t.equal(result.delivered, true, 'C receives B\'s message');
  t.deepEqual(result.data, { across: 'namespaces' }, 'intact');
  t.ok(result.fromB, 'from B');
  t.ok(result.linksB.every((a: string) => a.startsWith('ws://10.77.0.1')), `B's only link is to the hub across the veth (${result.linksB})`);
  const relayed = await hub.next((o) => typeof o.relayed === 'number' && o.relayed > 0);
  t.ok(relayed.relayed > 0, `the hub in the other namespace relayed it (${relayed.relayed} frames)`);
});
