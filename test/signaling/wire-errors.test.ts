import test from 'tape';
import { ERROR_CODES } from '../../src/index.js';
import { WIRE_ERRORS, wireError, protooErrorCode, connectorErrorEvent, errorTypeOf } from '../../src/signaling/wire-errors.js';
import { signalingError } from '../../src/signaling/index.js';
import { roomError } from '../../src/signaling/rooms.js';
import { serverError } from '../../src/messaging/requests.js';

test('every wire error type maps to an existing error code', (t) => {
  for (const [type, e] of Object.entries(WIRE_ERRORS)) t.ok(e.code in ERROR_CODES, `${type} -> ${e.code}`);
  t.end();
});

test('the core, rooms and MessagingPeer make the same error from one wire type', (t) => {
  for (const type of Object.keys(WIRE_ERRORS)) {
    const want = WIRE_ERRORS[type as keyof typeof WIRE_ERRORS].code;
    t.equal(signalingError(type, 'x').code, want, `signalingError ${type}`);
    t.equal(roomError(type, 'x').code, want, `roomError ${type}`);
    t.equal(serverError({ errorType: type, details: 'x' }).code, want, `serverError ${type}`);
    t.equal(errorTypeOf(wireError(type, 'x')), type, `info.errorType keeps ${type}`);
  }
  t.equal(wireError('NO_SUCH_TYPE', 'x').code, 'ERR_REJECTED', 'an unknown type is ERR_REJECTED');
  t.equal(wireError('toString', 'x').code, 'ERR_REJECTED', 'inherited names are not types');
  t.end();
});

test('protoo codes and Connector events come from the table', (t) => {
  t.equal(protooErrorCode('ROOM_NOT_FOUND'), 404, 'ROOM_NOT_FOUND is 404');
  t.equal(protooErrorCode('CLIENT_ID_TAKEN'), 409, 'CLIENT_ID_TAKEN is 409');
  t.equal(protooErrorCode('LIMIT_REACHED'), 429, 'LIMIT_REACHED is 429');
  t.equal(protooErrorCode('INTERNAL_ERROR'), 500, 'INTERNAL_ERROR is 500');
  t.equal(protooErrorCode(''), 500, 'no type is 500');
  t.equal(connectorErrorEvent('ROOM_EXISTS', 'Internal_Error'), 'Duplicate_Room', 'ROOM_EXISTS is Duplicate_Room');
  t.equal(connectorErrorEvent('ALREADY_MEMBER', 'Internal_Error'), 'Already_Exists', 'ALREADY_MEMBER is Already_Exists');
  t.equal(connectorErrorEvent('CLIENT_ID_TAKEN', 'Internal_Error'), 'Internal_Error', 'a type without an event gets the fallback');
  t.end();
});
