/**
 * peer-relay 0.0.2's own end-to-end tests (its test.js), run against relaymesh.
 * The user code inside each case is unchanged from the original; only mocha's
 * `it`/`done` became tape's `test`/`t.end()`, and `require('./lib/client')`
 * became relaymesh's PeerRelay. They use the original fixed ports 8001-8003.
 */
import test from 'tape';
import assert from 'node:assert';
import { PeerRelay } from '../src/index.js';

const Client = PeerRelay as unknown as new (opts: object) => any;

function e2e(name: string, body: (startClient: (opts: object) => any, done: () => void) => void) {
  test(`peer-relay 0.0.2 end to end: ${name}`, (t) => {
    const clients: any[] = [];
    function startClient(opts: object) {
      const c = new Client(opts);
      clients.push(c);
      return c;
    }
    let finished = false;
    const timer = setTimeout(() => { if (!finished) { t.fail('timed out'); cleanup(); } }, 20_000);
    function cleanup() {
      finished = true;
      clearTimeout(timer);
      function destroy() {
        if (clients.length === 0) t.end();
        else clients.pop().destroy(destroy);
      }
      destroy();
    }
    try {
      body(startClient, () => {
        if (finished) return;
        t.pass('done() called');
        cleanup();
      });
    } catch (err) {
      t.error(err);
      cleanup();
    }
  });
}

e2e('two peers connect', (startClient, done) => {
  var c1 = startClient({ port: 8001, bootstrap: [] })
  var c2 = startClient({ port: 8002, bootstrap: ['ws://localhost:8001'] })
  var count = 0

  c1.on('peer', function (id: any) {
    assert.ok(id.equals(c2.id))
    assert.ok(count <= 2)
    count++
    if (count === 2) done()
  })

  c2.on('peer', function (id: any) {
    assert.ok(id.equals(c1.id))
    assert.ok(count <= 2)
    count++
    if (count === 2) done()
  })
})

e2e('direct message', (startClient, done) => {
  var c1 = startClient({ port: 8001, bootstrap: [] })
  var c2 = startClient({ port: 8002, bootstrap: ['ws://localhost:8001'] })
  var count = 0

  c1.on('peer', function (id: any) {
    assert.ok(id.equals(c2.id))
    c1.send(id, 'TEST1')
  })

  c2.on('peer', function (id: any) {
    assert.ok(id.equals(c1.id))
    c2.send(id, 'TEST2')
  })

  c1.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c2.id))
    assert.equal(msg, 'TEST2')
    assert.ok(count <= 2)
    count++
    if (count === 2) done()
  })

  c2.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c1.id))
    assert.equal(msg, 'TEST1')
    assert.ok(count <= 2)
    count++
    if (count === 2) done()
  })
})

e2e('send message before connect', (startClient, done) => {
  var c1 = startClient({ port: 8001, bootstrap: [] })
  var c2 = startClient({ port: 8002, bootstrap: ['ws://localhost:8001'] })
  var count = 0

  c1.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c2.id))
    assert.equal(msg, 'TEST2')
    assert.ok(count <= 2)
    count++
    if (count === 2) done()
  })

  c2.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c1.id))
    assert.equal(msg, 'TEST1')
    assert.ok(count <= 2)
    count++
    if (count === 2) done()
  })

  c2.send(c1.id, 'TEST2')
  c1.send(c2.id, 'TEST1')
})

e2e('relay message', (startClient, done) => {
  // c1 <-> c2 <-> c3
  var c2 = startClient({ port: 8002, bootstrap: [] })
  var c1 = startClient({ port: 8001, bootstrap: ['ws://localhost:8002'] })
  var c3 = startClient({ port: 8003, bootstrap: ['ws://localhost:8002'] })

  c1.on('peer', function (id: any) {
    assert.ok(id.equals(c2.id))
    c1.send(c3.id, 'TEST')
  })

  c3.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c1.id))
    assert.equal(msg, 'TEST')
    done()
  })
})

e2e('clients automatically populate', (startClient, done) => {
  // c1 <-> c2 <-> c3
  var c2 = startClient({ port: 8002, bootstrap: [] })
  var c1 = startClient({ port: 8001, bootstrap: ['ws://localhost:8002'] })
  var c3 = startClient({ port: 8003, bootstrap: ['ws://localhost:8002'] })

  var c1PeerEvent = false
  var c3PeerEvent = false

  c1.on('peer', function (id: any) {
    if (id.equals(c2.id)) {
      // c1.connect(c3.id)
    } else if (id.equals(c3.id)) {
      c1PeerEvent = true
      c1.disconnect(c2.id)
      c1.send(c3.id, 'TEST')
    } else {
      assert.ok(false)
    }
  })

  c3.on('peer', function (id: any) {
    assert.ok(id.equals(c1.id) || id.equals(c2.id))
    if (id.equals(c1.id)) c3PeerEvent = true
  })

  c3.on('message', function (msg: any, id: any) {
    assert.ok(id.equals(c1.id))
    assert.equal(msg, 'TEST')
    assert.ok(c1PeerEvent)
    assert.ok(c3PeerEvent)
    done()
  })
})
