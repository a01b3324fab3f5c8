/**
 * peer-relay 0.0.2's own test 'webrtc connect and send message', ported to
 * tape with @roamhq/wrtc (loopback candidates only) in place of electron-webrtc. The user code between
 * the markers is unchanged. Fixed port 8002, so it runs alone.
 */
import test from 'tape';
import assert from 'assert';
import { PeerRelay } from '../src/index.js';
import { loopbackWrtc } from './helpers/webrtc-loopback.js';

// @roamhq/wrtc, kept to host candidates on loopback.
const wrtc = loopbackWrtc();

test('webrtc connect and send message', (t) => {
  const clients: PeerRelay[] = [];
  function startClient(opts: any): any {
    const c = new PeerRelay(opts);
    clients.push(c);
    return c;
  }
  t.teardown(() => Promise.all(clients.map((c) => new Promise<void>((r) => c.destroy(() => r())))).then(() => undefined));
  function done() {
    t.pass('C3 receives TEST from C1 over the link they formed');
    t.end();
  }

  // ---- peer-relay 0.0.2 test.js, unchanged
  // c1 <-> c2 <-> c3
  var c2 = startClient({ port: 8002, bootstrap: [] })
  var c1 = startClient({ wrtc: wrtc, bootstrap: ['ws://localhost:8002'] })
  var c3 = startClient({ wrtc: wrtc, bootstrap: ['ws://localhost:8002'] })

  c1.on('peer', function (id: any) {
    assert.ok(id.equals(c2.id) || id.equals(c3.id))
    if (id.equals(c3.id)) c1.send(c3.id, 'TEST')
  })

  c3.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c1.id))
    assert.equal(msg, 'TEST')
    done()
  })
  // ---- end of the original
});
