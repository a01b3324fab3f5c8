import test from 'tape';
import { startNode, waitFor, urlOf, FAST } from '../helpers/testnet.js';
import { startClient, inbox } from '../helpers/messaging.js';
import { MessagingPeer, generateKeyPair } from '../../src/index.js';

/**
 * The DOM and console the seed's example touches, recorded. Lexically shadowed in each test (`const { console,
 * document } = env`), never replaced on globalThis: tape prints its TAP through the global console.log, and a
 * replaced one swallowed every assertion line, so a failure here printed no `not ok` at all.
 */
function fakeEnvironment(): { logs: unknown[][]; appended: string[]; console: { log: (...args: unknown[]) => void }; document: any } {
  const logs: unknown[][] = [];
  const appended: string[] = [];
  return {
    logs,
    appended,
    console: { log: (...args: unknown[]) => { logs.push(args); } },
    document: {
      createElement: () => ({ textContent: '' }),
      getElementById: (id: string) => ({ appendChild: (el: { textContent: string }) => appended.push(`${id}: ${el.textContent}`) }),
    },
  };
}

test('the seed\'s "Complete Example: Building a Messenger App" runs as written', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const target = await startClient(t, node, 'target-peer-id');
  const got = inbox(target);
  const env = fakeEnvironment();
  const { console, document } = env;
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
  // The server asks once the example has installed its handler. (It used to ask 10 ms after the registration: under
  // load the question reached the client in the same read as the register answer, before connect() had resolved and
  // the handler was there, and the question was never answered.)
  const answer = await node.signaling!.ask('your-unique-id', 'what is your answer?');
  t.deepEqual(env.logs.find((l) => l[0] === 'Server asked:'), ['Server asked:', 'what is your answer?'], 'the example logged the question');
  t.deepEqual(answer, { answer: 'This is my answer' }, 'and answered with the example\'s answer');
});

test('the example\'s message handler updates the page when the config has a secretKey', async (t) => {
  const node = await startNode(t, { port: 0, ...FAST });
  const target = await startClient(t, node, 'target-peer-id');
  const env = fakeEnvironment();
  const { document } = env;
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
