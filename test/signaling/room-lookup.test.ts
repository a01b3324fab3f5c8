import test from 'tape';
import { roomsOf } from '../../src/signaling/index.js';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';
import { connector } from '../helpers/connector-client.js';
import { startClient } from '../helpers/messaging.js';
import type { PeerRelay } from '../../src/index.js';

const SIGNALING = 4;

/** Records the type of every signaling mesh message `node` sends, by destination (a spy: the message still goes out); `texts` has the messages. */
function spyOnSignaling(node: PeerRelay, texts: string[] = []): Map<string, string[]> {
  const sent = new Map<string, string[]>();
  const original = node.sendOnChannel.bind(node);
  node.sendOnChannel = (id: Uint8Array, channel: number, payload: Uint8Array) => {
    if (channel === SIGNALING) {
      const hex = Buffer.from(id).toString('hex');
      const text = Buffer.from(payload).toString('utf8');
      const t = /^\{"t":"([a-z-]+)"/.exec(text)?.[1] ?? '?';
      texts.push(text);
      sent.set(hex, [...(sent.get(hex) ?? []), t]);
    }
    return original(id, channel, payload);
  };
  return sent;
}

/** A signaling node with `n` port-less nodes linked to it (waits for the links). */
async function withPortless(t: test.Test, n: number, rooms: Record<string, number> = {}): Promise<{ x: PeerRelay; portless: PeerRelay[] }> {
  // Look-ups and operations would wait a minute for a node that never answers.
  const x = await startNode(t, { port: 0, ...FAST, signaling: { rooms: { findTimeoutMs: 60_000, opTimeoutMs: 60_000, ...rooms } } });
  const portless: PeerRelay[] = [];
  for (let i = 0; i < n; i++) portless.push(await startNode(t, { bootstrap: [urlOf(x)], ...FAST }));
  t.ok(await waitFor(() => x.peers.length === n && portless.every((p) => p.peers.length >= 1)), `${n} port-less nodes are linked`);
  return { x, portless };
}

test('room operations on a node whose links have no port never wait on those links', async (t) => {
  const { x, portless } = await withPortless(t, 3);
  t.deepEqual(x.signaling!.signalingNodes(), [], 'port-less links are not counted as signaling nodes');
  const sent = spyOnSignaling(x);
  const a = await connector(t, `${urlOf(x)}/connector`);
  a.send({ event: 'Create_Room', data: { room: 'lobby' } });
  t.equal((await a.next('Room_Created')).data.roomId, 'lobby', 'Create_Room is answered (the look-up asked nobody)');
  a.send({ event: 'Join_Room', data: { room: 'nowhere' } });
  t.equal((await a.next('Not_Found')).type, 'error', 'a Join_Room for an unknown room is refused without waiting for the port-less links');
  for (const p of portless) t.notOk((sent.get(p.identity.idHex) ?? []).includes('room-find'), 'no room-find went to a port-less node');
});

test('port-less links get no rosters; a signaling link does, and only it is asked for rooms', async (t) => {
  const { x, portless } = await withPortless(t, 2);
  const sent = spyOnSignaling(x);
  const y = await startNode(t, { port: 0, bootstrap: [urlOf(x)], ...FAST });
  t.ok(await waitFor(() => x.signaling!.signalingNodes().includes(y.identity.idHex)), 'the signaling link is known by its hello');
  await startClient(t, x, 'alice');
  t.ok(await waitFor(() => y.signaling!.homeOf('alice') === x.identity.idHex), 'the signaling link learns alice from the roster');
  for (const p of portless) t.notOk((sent.get(p.identity.idHex) ?? []).includes('roster'), 'no roster went to a port-less node');
  t.ok((sent.get(y.identity.idHex) ?? []).includes('roster'), 'the roster went to the signaling link');
  // A room homed on y is found from x, and only y is asked.
  const b = await connector(t, `${urlOf(y)}/connector`);
  b.send({ event: 'Create_Room', data: { room: 'on-y' } });
  await b.next('Room_Created');
  const a = await connector(t, `${urlOf(x)}/connector`);
  a.send({ event: 'Join_Room', data: { room: 'on-y' } });
  const added = await a.next('Client_Added');
  t.deepEqual(added.data.clients.sort(), [a.id, b.id].sort(), 'x found the room on y and joined it');
  const finds = [...sent].filter(([, types]) => types.includes('room-find')).map(([hex]) => hex);
  t.deepEqual(finds, [y.identity.idHex], 'the look-up asked only the signaling node');
});

test('one client cannot hold more than maxPendingPerClient room look-ups; a second look-up of one room shares the pending question', async (t) => {
  const x = await startNode(t, { port: 0, ...FAST, signaling: { rooms: { findTimeoutMs: 60_000, maxPendingPerClient: 4, opsPerSecond: 1000 } } });
  const y = await startNode(t, { port: 0, bootstrap: [urlOf(x)], ...FAST });
  t.ok(await waitFor(() => x.signaling!.signalingNodes().includes(y.identity.idHex)), 'y is a signaling node of x');
  // y never answers look-ups: every one from x stays pending.
  y.signaling!.onMeshType('room-find', () => undefined);
  const a = await connector(t, `${urlOf(x)}/connector`);
  for (let i = 0; i < 10; i++) a.send({ event: 'Join_Room', data: { room: `r${i}` } });
  for (let i = 0; i < 6; i++) await a.next('Limit_Reached');
  t.pass('the 6 look-ups past 4 are refused with Limit_Reached');
  // The same room asked again shares the pending question.
  const b = await connector(t, `${urlOf(x)}/connector`);
  const texts: string[] = [];
  spyOnSignaling(x, texts);
  b.send({ event: 'Join_Room', data: { room: 'r0' } });
  b.send({ event: 'Join_Room', data: { room: 'r0' } });
  b.send({ event: 'Join_Room', data: { room: 'marker' } });
  t.ok(await waitFor(() => texts.some((m) => m.includes('"room-find"') && m.includes('"marker"'))), 'b\'s frames were handled (its last look-up went out)');
  t.equal(texts.filter((m) => m.includes('"room-find"') && m.includes('"r0"')).length, 0, 'r0 is being looked up already: no new question for it');
});

test('room operations beyond a connection\'s budget get Rate_Limited; another connection is served', async (t) => {
  const x = await startNode(t, { port: 0, ...FAST, signaling: { rooms: { opsPerSecond: 5 } } });
  const a = await connector(t, `${urlOf(x)}/connector`);
  for (let i = 0; i < 40; i++) a.send({ event: 'Create_Room', data: { room: `a${i}` } });
  await a.next('Rate_Limited');
  t.pass('a burst of 40 Create_Room is cut with Rate_Limited');
  t.ok(roomsOf(x.signaling!).list().length < 40, 'not all 40 rooms were created');
  const b = await connector(t, `${urlOf(x)}/connector`);
  b.send({ event: 'Create_Room', data: { room: 'b' } });
  t.equal((await b.next('Room_Created')).data.roomId, 'b', 'another connection still creates a room');
});
