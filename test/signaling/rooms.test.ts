import test from 'tape';
import { startNode, urlOf, waitFor, FAST } from '../helpers/testnet.js';
import { connector } from '../helpers/connector-client.js';
import { roomsOf } from '../../src/signaling/rooms.js';
import type { PeerRelay } from '../../src/index.js';

async function twoNodes(t: test.Test): Promise<[PeerRelay, PeerRelay]> {
  const a = await startNode(t, { port: 0, ...FAST });
  const b = await startNode(t, { port: 0, bootstrap: [urlOf(a)], ...FAST });
  await waitFor(() => a.peers.length === 1 && b.peers.length === 1);
  return [a, b];
}

const path = (n: PeerRelay) => `${urlOf(n)}/connector`;
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('a room spans two nodes: create, join, duplicate and membership errors, broadcast, leave, empty room removed', async (t) => {
  const [na, nb] = await twoNodes(t);
  const a = await connector(t, path(na));
  const b = await connector(t, path(nb));
  const c = await connector(t, path(nb));

  a.send({ event: 'Create_Room', data: { room: 'r1', name: 'my room' } });
  const created = await a.next('Room_Created');
  t.deepEqual(created.data, { clients: [a.id], name: 'my room', roomId: 'r1' }, 'Room_Created lists the creator');
  t.equal(created.type, 'info', 'Room_Created is info');
  t.match(created.timestamp!, RFC3339, 'timestamp is RFC 3339');
  t.match(created.message_id!, UUID, 'message_id is a uuid');

  b.send({ event: 'Join_Room', data: { room: 'r1' } });
  const addedB = await b.next('Client_Added');
  const addedA = await a.next('Client_Added');
  t.deepEqual(addedB.data, { clients: [a.id, b.id], name: 'my room', room: 'r1' }, 'the joiner on the other node gets the full member list');
  t.deepEqual(addedA.data, addedB.data, 'the creator gets the same list');
  t.equal(addedA.type, 'update', 'Client_Added is an update');

  b.send({ event: 'Join_Room', data: { room: 'r1' } });
  t.equal((await b.next('Already_Exists')).type, 'error', 'joining twice is refused with Already_Exists');
  c.send({ event: 'Create_Room', data: { room: 'r1' } });
  t.equal((await c.next('Duplicate_Room')).type, 'error', 'a room id taken on another node is refused with Duplicate_Room');
  c.send({ event: 'Room_Message', data: { room: 'r1', data: 'sneak' } });
  t.ok(/not in room/.test((await c.next('Not_Found')).data.message), 'a non-member cannot send to the room');
  c.send({ event: 'Join_Room', data: {} });
  t.equal((await c.next('Missing_Fields')).type, 'error', 'Join_Room without a room gives Missing_Fields');

  b.send({ event: 'Room_Message', data: { room: 'r1', data: { hi: 1 } } });
  t.deepEqual((await a.next('Room_Message')).data, { room: 'r1', from: b.id, data: { hi: 1 } }, 'a member broadcast reaches the other member across nodes');

  b.send({ event: 'End_Room', data: { room: 'r1' } });
  t.equal((await b.next('Unauthorised')).type, 'error', 'only the creator may end the room');

  b.send({ event: 'Leave_Room', data: { room: 'r1' } });
  t.deepEqual((await b.next('Room_Left')).data, { room: 'r1' }, 'the leaver gets Room_Left');
  t.deepEqual((await a.next('Client_Removed')).data, { clients: [a.id], name: 'my room', room: 'r1' }, 'the rest get Client_Removed without the leaver');

  a.send({ event: 'Leave_Room', data: { room: 'r1' } });
  await a.next('Room_Left');
  t.deepEqual(roomsOf(na.signaling!).list(), [], 'the empty room is removed');
  b.send({ event: 'Join_Room', data: { room: 'r1' } });
  t.equal((await b.next('Not_Found')).type, 'error', 'joining the removed room gives Not_Found');
});

test('a departing client leaves its rooms, and the creator ends a room for every member', async (t) => {
  const [na, nb] = await twoNodes(t);
  const a = await connector(t, path(na));
  const b = await connector(t, path(nb));
  const c = await connector(t, path(na));
  a.send({ event: 'Create_Room', data: { room: 'r2' } });
  await a.next('Room_Created');
  b.send({ event: 'Join_Room', data: { room: 'r2' } });
  await a.next('Client_Added', (f) => f.data.clients.length === 2);
  c.send({ event: 'Join_Room', data: { room: 'r2' } });
  await a.next('Client_Added', (f) => f.data.clients.length === 3);
  await b.next('Client_Added', (f) => f.data.clients.length === 3);

  b.ws.close();
  const removed = await a.next('Client_Removed');
  t.deepEqual(removed.data.clients, [a.id, c.id], 'the member on the other node left when its connection closed');

  a.send({ event: 'End_Room', data: { room: 'r2' } });
  const [da, dc] = await Promise.all([a.next('Room_Deleted'), c.next('Room_Deleted')]);
  t.deepEqual(da.data, { clients: [a.id, c.id], name: '', room: 'r2' }, 'the creator gets Room_Deleted with the members');
  t.deepEqual(dc.data, da.data, 'every member gets Room_Deleted');
  t.deepEqual(roomsOf(na.signaling!).list(), [], 'the ended room is gone');
});

test('a room created without an id gets one, and rooms of a node are listed with their members', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const a = await connector(t, path(node));
  a.send({ event: 'Create_Room', data: { name: 'anon' } });
  const created = await a.next('Room_Created');
  t.match(created.data.roomId, /^[0-9a-f]{16}$/, 'a random room id is assigned');
  t.deepEqual(roomsOf(node.signaling!).list(), [{ room: created.data.roomId, name: 'anon', creator: a.id, clients: [a.id] }], 'list() shows the room');
  t.deepEqual(roomsOf(node.signaling!).roomsOf(a.id), [created.data.roomId], 'roomsOf() shows the client\'s rooms');
});

test('room messages from the wrong node or of the wrong shape are dropped without effect', async (t) => {
  const [na, nb] = await twoNodes(t);
  const a = await connector(t, path(na));
  a.send({ event: 'Create_Room', data: { room: 'safe' } });
  await a.next('Room_Created');
  const forge = (m: unknown) => nb.sendOnChannel(na.id, 4, new TextEncoder().encode(typeof m === 'string' ? m : JSON.stringify(m)));
  forge({ t: 'room-op', rid: 'x1', op: 'end', room: 'safe', client: a.id });
  forge({ t: 'room-op', rid: null, op: 'leave', room: 'safe', client: a.id });
  forge({ t: 'room-op', rid: 'x2', op: 'join', room: 'safe', client: 'nobody-registered' });
  forge({ t: 'room-op', rid: 'x3', op: 'explode', room: 'safe', client: a.id });
  forge({ t: 'room-ev', to: a.id, ev: { kind: 'deleted', room: 'safe', name: '', clients: [], by: a.id } });
  forge({ t: 'room-ev', to: a.id, ev: null });
  forge({ t: 'room-res', rid: 'nope', ok: true });
  forge({ t: 'room-found', rid: 7 });
  forge('{"t":"room-op"');
  const b = await connector(t, path(nb));
  t.ok(await waitFor(() => na.signaling!.homeOf(b.id) !== undefined), 'a real client on the forging node is known');
  b.send({ event: 'Join_Room', data: { room: 'safe' } });
  const added = await a.next('Client_Added');
  t.deepEqual(added.data.clients, [a.id, b.id], 'the room kept its creator: forged end, leave and join were ignored');
  t.notOk(a.inbox.some((f) => f.event === 'Room_Deleted'), 'a forged Room_Deleted event from a node that is not the home never reached the client');
});
