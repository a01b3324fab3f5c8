import test from 'tape';
import { roomsOf, ROOM_LIMITS } from '../../src/signaling/index.js';
import { resolveRoomLimits } from '../../src/signaling/limits.js';
import { startNode, urlOf } from '../helpers/testnet.js';
import { connector } from '../helpers/connector-client.js';

test('room limits are set through the signaling option rooms', async (t) => {
  const node = await startNode(t, { port: 0, signaling: { rooms: { maxRooms: 1, maxNameLength: 4 } } });
  const rooms = roomsOf(node.signaling!);
  t.equal(rooms.limits.maxRooms, 1, 'maxRooms is the option');
  t.equal(rooms.limits.maxMembers, ROOM_LIMITS.maxMembers, 'the others keep their defaults');
  const a = await connector(t, `${urlOf(node)}/connector`);
  a.send({ event: 'Create_Room', data: { room: 'r1', name: 'toolong' } });
  t.equal((await a.next('Missing_Fields')).type, 'error', 'a name over maxNameLength is refused');
  a.send({ event: 'Create_Room', data: { room: 'r1', name: 'ok' } });
  await a.next('Room_Created');
  a.send({ event: 'Create_Room', data: { room: 'r2' } });
  t.equal((await a.next('Limit_Reached')).type, 'error', 'a second room is refused: the node holds maxRooms = 1');
  t.equal(rooms.list().length, 1, 'one room exists');
  t.equal(node.signaling!.stats().rooms, 1, 'stats() counts it');
});

test('a bad room limit throws a RangeError naming it', (t) => {
  t.throws(() => resolveRoomLimits({ maxRooms: -1 }), /signaling\.rooms\.maxRooms/, 'named with its group');
  t.throws(() => resolveRoomLimits('many'), TypeError, 'rooms must be an object');
  t.deepEqual(resolveRoomLimits(undefined), { ...ROOM_LIMITS }, 'no option: the defaults');
  t.end();
});
