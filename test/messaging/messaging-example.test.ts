import test from 'tape';
import { startNode, waitFor, urlOf, FAST } from '../helpers/testnet.js';
import { startClient, inbox } from '../helpers/messaging.js';
import { MessagingPeer, generateKeyPair } from '../../src/index.js';

/** The DOM and console the seed's example touches, recorded. */
function fakeEnvironment(t: test.Test): { logs: unknown[][]; appended: string[] } {
  const logs: unknown[][] = [];
  const appended: string[] = [];
  const g = globalThis as any;
  const savedLog = console.log;
  const savedDoc = g.document;
  console.log = (...args: unknown[]) => { logs.push(args); };
  g.document = {
    createElement: () => ({ textContent: '' }),
    getElementById: (id: string) => ({ appendChild: (el: { textContent: string }) => appended.push(`${id}: ${el.textContent}`) }),
  };
  t.teardown(() => { console.log = savedLog; g.document = savedDoc; });
  return { logs, appended };
}

test('the seed\'s "Complete Example: Building a Messenger App" runs as written', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const target = await startClient(t, node, 'target-peer-id');
  const got = inbox(target);
  const env = fakeEnvironment(t);
  node.signaling!.on('registration', (info) => {
    if (info.clientId === 'your-unique-id') setTimeout(() => node.signaling!.ask('your-unique-id', 'what is your answer?').then((a) => env.logs.push(['ANSWER', a]), (e) => env.logs.push(['ASK FAILED', e])), 10);
  });
  const yourPublicKey = generateKeyPair().publicKey;
  const serverUrl = urlOf(node);

  // ---- the example, as written (only the URL points at the test node) ----
  const peer = new MessagingPeer({
    serverUrl,
    clientId: "your-unique-id",
    publicKey: yourPublicKey, // Your ml-kem public key
  })
  t.teardown(() => peer.disconnect());
  await peer.connect()
  peer.onMessage((message, fromId) => {
    console.log(`Message from ${fromId}:`, message)
    const messageElement = document.createElement("div")
    messageElement.textContent = `${fromId}: ${message}`
    document.getElementById("messages-container")!.appendChild(messageElement)
  })
  peer.onServerQuestion((question, questionId) => {
    console.log("Server asked:", question)
    const response = { answer: "This is my answer" }
    peer.respondToServer(questionId, response)
  })
  const peers = await peer.discoverPeers()
  console.log("Available peers:", peers)
  await peer.sendMessage("target-peer-id", "Hello from me!")
  // ---- end of the example ----

  t.ok(await waitFor(() => got.length === 1), 'the target receives the message');
  t.equal(got[0]?.message, 'Hello from me!', 'Hello from me!');
  t.deepEqual(env.logs.find((l) => l[0] === 'Available peers:'), ['Available peers:', ['target-peer-id']], 'discover logged the target');
  t.ok(await waitFor(() => env.logs.some((l) => l[0] === 'ANSWER')), 'the server question was answered');
  t.deepEqual(env.logs.find((l) => l[0] === 'ANSWER'), ['ANSWER', { answer: 'This is my answer' }], 'with the example\'s answer');
});

test('the example\'s message handler updates the page when the config has a secretKey', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const target = await startClient(t, node, 'target-peer-id');
  const env = fakeEnvironment(t);
  const { publicKey, secretKey } = generateKeyPair();
  const peer = new MessagingPeer({ serverUrl: urlOf(node), clientId: 'your-unique-id', publicKey, secretKey });
  t.teardown(() => peer.disconnect());
  await peer.connect();
  peer.onMessage((message, fromId) => {
    const messageElement = document.createElement('div');
    messageElement.textContent = `${fromId}: ${message}`;
    document.getElementById('messages-container')!.appendChild(messageElement);
  });
  await target.sendMessage('your-unique-id', 'Hi there');
  t.ok(await waitFor(() => env.appended.length === 1), 'an element is appended');
  t.equal(env.appended[0], 'messages-container: target-peer-id: Hi there', 'showing sender and text');
});
