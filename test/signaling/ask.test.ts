import test from 'tape';
import { startNode, urlOf } from '../helpers/testnet.js';
import { connector } from '../helpers/connector-client.js';

test('ask() rejects ERR_ABORTED when its signal aborts, and ERR_TIMEOUT when no answer comes', async (t) => {
  const node = await startNode(t, { port: 0, signaling: { maxQuestionsPerClient: 2 } });
  const core = node.signaling!;
  const c = await connector(t, `${urlOf(node)}/connector`); // a Connector client never answers questions
  await core.ask(c.id, 'q', { signal: AbortSignal.abort() }).then(() => t.fail('resolved'), (err) => t.equal(err.code, 'ERR_ABORTED', 'an aborted signal: ERR_ABORTED at once'));
  const ac = new AbortController();
  const asked = core.ask(c.id, 'q', { signal: ac.signal });
  ac.abort();
  await asked.then(() => t.fail('resolved'), (err) => t.equal(err.code, 'ERR_ABORTED', 'aborted while waiting: ERR_ABORTED'));
  await core.ask(c.id, 'q', { timeoutMs: 20 }).then(() => t.fail('resolved'), (err) => t.equal(err.code, 'ERR_TIMEOUT', 'no answer: ERR_TIMEOUT'));
  const open = [core.ask(c.id, 'a', { timeoutMs: 5000 }), core.ask(c.id, 'b', { timeoutMs: 5000 })];
  await core.ask(c.id, 'c').then(() => t.fail('resolved'), (err) => t.equal(err.info?.errorType, 'LIMIT_REACHED', 'a third open question is refused with LIMIT_REACHED'));
  c.ws.terminate();
  for (const p of open) await p.then(() => t.fail('resolved'), (err) => t.equal(err.code, 'ERR_PEER_NOT_FOUND', 'open questions fail when the client leaves'));
});
