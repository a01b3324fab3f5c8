import test from 'tape';
import net from 'node:net';
import { corkSocket } from '../../src/transport/cork.js';
import { startNode, waitFor, FAST } from '../helpers/testnet.js';
import { startClient, inbox } from '../helpers/messaging.js';

function fakeWs(): { ws: { _socket: { cork(): void; uncork(): void } }; log: string[] } {
  const log: string[] = [];
  return { ws: { _socket: { cork: () => log.push('cork'), uncork: () => log.push('uncork') } }, log };
}

test('corkSocket corks once per turn and uncorks after the synchronous work (turn) or on the check phase (immediate)', async (t) => {
  const a = fakeWs();
  corkSocket(a.ws);
  corkSocket(a.ws);
  t.deepEqual(a.log, ['cork'], 'a second write in the same turn does not cork again');
  await Promise.resolve();
  t.deepEqual(a.log, ['cork', 'uncork'], 'uncorked by the end of the turn');
  corkSocket(a.ws);
  t.deepEqual(a.log, ['cork', 'uncork', 'cork'], 'the next turn corks anew');
  await new Promise((r) => setImmediate(r));

  const b = fakeWs();
  corkSocket(b.ws, 'immediate');
  await Promise.resolve();
  await Promise.resolve();
  corkSocket(b.ws, 'immediate');
  t.deepEqual(b.log, ['cork'], 'still corked after awaits (microtasks)');
  await new Promise((r) => setImmediate(r));
  t.deepEqual(b.log, ['cork', 'uncork'], 'uncorked on the check phase');
  corkSocket({});
  corkSocket({ _socket: null });
  t.pass('a WebSocket without a Node socket (a browser one) is left alone');
});

test('a MessagingPeer that awaits each of 50 sends writes them to its socket in one system call, and all 50 arrive in order', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const port = node.address()!.port;
  const alice = await startClient(t, node, 'alice');
  const bob = await startClient(t, node, 'bob');
  const got = inbox(bob);
  t.ok(await waitFor(() => node.signaling!.discover().includes('bob')), 'the node knows bob');
  await alice.sendMessage('bob', 'warm-up'); // fetches bob's keys
  t.ok(await waitFor(() => got.length === 1), 'the first message arrives');
  // Count the writes of the client sockets (those whose remote end is the node) while alice sends.
  const proto = net.Socket.prototype as unknown as { _writeGeneric: (...a: unknown[]) => unknown };
  const original = proto._writeGeneric;
  let writes = 0;
  proto._writeGeneric = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === port) writes++;
    return original.apply(this, args);
  };
  try {
    for (let i = 0; i < 50; i++) await alice.sendMessage('bob', `m${i}`);
    // The 50 may be sealed as one record at the turn's end (relaymesh-bin-v1) and the socket uncorked a
    // turn after that: wait for the first write, then one turn more for any second one.
    for (let i = 0; i < 10_000 && writes === 0; i++) await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
  } finally {
    proto._writeGeneric = original;
  }
  t.ok(writes >= 1 && writes <= 2, `50 messages left in ${writes} socket write(s), not 50`);
  t.ok(await waitFor(() => got.length === 51), 'all 50 arrive');
  t.deepEqual(got.slice(1).map((m) => m.message), Array.from({ length: 50 }, (_, i) => `m${i}`), 'in order, each once');
  alice.disconnect();
  bob.disconnect();
});
