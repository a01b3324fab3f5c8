import test from 'tape';
import { startMesh, waitFor } from '../helpers/testnet.js';
import { protoo, nextNotification } from '../helpers/protoo-client.js';
import { roomsOf } from '../../src/signaling/rooms.js';
import { signAnchor } from '../../src/signaling/room-records.js';
import type { PeerRelay } from '../../src/index.js';

const destroy = (n: PeerRelay) => new Promise<void>((r) => n.destroy(() => r()));
const homes = (n: PeerRelay, room: string) => roomsOf(n.signaling!).list().some((r) => r.room === room);
const copies = (n: PeerRelay, room: string) => roomsOf(n.signaling!).replicas().some((r) => r.room === room);

async function mesh(t: test.Test): Promise<PeerRelay[]> {
  const nodes = await startMesh(t, 3, { signaling: { rosterDelayMs: 20, rooms: { replicaCheckMs: 500 } } });
  t.ok(await waitFor(() => nodes.every((n) => n.peers.length >= 2), 15_000), 'the 3 nodes are linked to each other');
  t.ok(await waitFor(() => nodes.every((n) => n.signaling!.signalingNodes().length === 2)), 'each knows the other two run signaling');
  return nodes;
}

test('a room outlives its home: a replica takes it over, members on other nodes stay members, the creator-only end rule survives', async (t) => {
  const [x, y, z] = await mesh(t);
  const alice = await protoo(t, x, 'alice');
  const bob = await protoo(t, y, 'bob');
  const carol = await protoo(t, z, 'carol');
  t.deepEqual((await alice.request('create_room', { room: 'lobby', name: 'Lobby' })).creator, 'alice', 'alice creates the room on X');
  await bob.request('join_room', { room: 'lobby' });
  await carol.request('join_room', { room: 'lobby' });
  t.ok(await waitFor(() => copies(y, 'lobby') && copies(z, 'lobby')), 'Y and Z hold replicas of it');
  t.deepEqual(roomsOf(y.signaling!).replicas().find((r) => r.room === 'lobby')?.members, ['alice', 'bob', 'carol'], 'the replica has the member list');
  await destroy(x);
  t.ok(await waitFor(() => homes(y, 'lobby') || homes(z, 'lobby'), 15_000), 'a replica homes the room after X died');
  const newHome = homes(y, 'lobby') ? y : z;
  t.notOk(homes(y, 'lobby') && homes(z, 'lobby'), 'exactly one replica took it over');
  const said = nextNotification(carol, 'room_message');
  t.equal((await bob.request('room_message', { room: 'lobby', data: 'still here' })).delivered >= 1, true, 'bob can still send to the room');
  t.deepEqual(await said, { room: 'lobby', from: 'bob', data: 'still here' }, 'carol, on the other node, still gets room messages');
  await bob.request('end_room', { room: 'lobby' }).then(() => t.fail('bob ended it'), (err: any) => t.equal(err.code, 403, 'bob may not end it: only the creator may'));
  // alice comes back on the new home, under her id, and ends her room.
  const alice2 = await protoo(t, newHome, 'alice');
  const ended = await alice2.request('end_room', { room: 'lobby' });
  t.equal(ended.creator, 'alice', 'the creator ends the room after the move');
  t.ok(await waitFor(() => !homes(newHome, 'lobby')), 'the room is gone');
});

test('forged room moves, forged replicas and oversized rosters are refused and counted', async (t) => {
  const [x, y, z] = await mesh(t);
  const alice = await protoo(t, x, 'alice');
  const bob = await protoo(t, y, 'bob');
  await alice.request('create_room', { room: 'r' });
  await bob.request('join_room', { room: 'r' });
  const dropped = (n: PeerRelay) => n.signaling!.stats().dropped;
  // Z claims the room with an anchor of its own (not named by X as a replica).
  const own = signAnchor(z.identity, { room: 'r', origin: z.identity.idHex, created: Date.now(), creator: 'alice', seq: 5, replicas: [] });
  z.sendOnChannel(y.id, 4, Buffer.from(JSON.stringify({ t: 'room-moved', room: 'r', anchor: own })));
  t.ok(await waitFor(() => (dropped(y).room_forged ?? 0) === 1), 'Y refuses the move and counts room_forged');
  const said = nextNotification(alice, 'room_message');
  await bob.request('room_message', { room: 'r', data: 'to the real home' });
  t.deepEqual((await said).data, 'to the real home', 'bob\'s messages still go to X');
  // A replica with an anchor that is not signed by its sender.
  const xAnchor = signAnchor(x.identity, { room: 's', origin: x.identity.idHex, created: Date.now(), creator: 'eve', seq: 0, replicas: [y.identity.idHex] });
  z.sendOnChannel(y.id, 4, Buffer.from(JSON.stringify({ t: 'room-rep', room: 's', ver: 1, name: '', creator: 'eve', members: ['eve'], anchor: xAnchor })));
  t.ok(await waitFor(() => (dropped(y).room_forged ?? 0) === 2), 'a replica whose anchor is another node\'s is refused');
  const tampered = { ...xAnchor, creator: 'mallory' };
  x.sendOnChannel(y.id, 4, Buffer.from(JSON.stringify({ t: 'room-rep', room: 's', ver: 1, name: '', creator: 'mallory', members: ['m'], anchor: tampered })));
  t.ok(await waitFor(() => (dropped(y).room_forged ?? 0) === 3), 'an anchor changed after signing is refused');
  const members = Array.from({ length: 1001 }, (_, i) => `m${i}`);
  x.sendOnChannel(y.id, 4, Buffer.from(JSON.stringify({ t: 'room-rep', room: 's', ver: 2, name: '', creator: 'eve', members, anchor: xAnchor })));
  t.ok(await waitFor(() => (dropped(y).room_oversized ?? 0) === 1), 'a replica with more than maxMembers members is refused as room_oversized');
  t.notOk(copies(y, 's'), 'Y holds no copy of the forged rooms');
});

test('a home that was only thought dead yields its room to the replica that took it over', async (t) => {
  const [x, y, z] = await mesh(t);
  const alice = await protoo(t, x, 'alice');
  const bob = await protoo(t, y, 'bob');
  const carol = await protoo(t, z, 'carol');
  await alice.request('create_room', { room: 'split' });
  await bob.request('join_room', { room: 'split' });
  await carol.request('join_room', { room: 'split' });
  t.ok(await waitFor(() => copies(y, 'split') && copies(z, 'split')), 'Y and Z hold replicas');
  // Both replicas wrongly believe X died (as after a missed probe on a stalled machine).
  y.signaling!.emit('homeDead', x.identity.idHex);
  z.signaling!.emit('homeDead', x.identity.idHex);
  t.ok(await waitFor(() => homes(y, 'split') !== homes(z, 'split')), 'one replica takes the room over');
  t.ok(await waitFor(() => !homes(x, 'split')), 'X, alive, yields its copy');
  const newHome = homes(y, 'split') ? y : z;
  const heard = nextNotification(homes(y, 'split') ? carol : bob, 'room_message');
  t.equal((await alice.request('room_message', { room: 'split', data: 'from the old home' })).delivered, 2, 'alice (on X) now sends through the new home');
  t.equal((await heard).data, 'from the old home', 'and the others get it');
  t.deepEqual(roomsOf(newHome.signaling!).list().find((r) => r.room === 'split')?.clients.sort(), ['alice', 'bob', 'carol'], 'nobody lost their membership');
});
