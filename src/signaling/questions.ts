/**
 * The questions a server has open to one local client (`ask`, debug_question):
 * bounded by maxQuestionsPerClient, each with a timeout; those nobody awaits
 * are remembered so their answer can be emitted as 'response'.
 */
import { randomBytes, toHex } from '../util/bytes.js';
import { relayError } from '../util/errors.js';
import { PendingRequests } from '../util/pending.js';
import type { SignalingLimits } from './limits.js';
import { signalingError, type ClientSink } from './types.js';

export class Questions {
  readonly #pending: PendingRequests<string, unknown>;
  readonly #unawaited = new Set<string>();

  constructor(clientId: string, limits: Pick<SignalingLimits, 'maxQuestionsPerClient' | 'questionTimeoutMs'>) {
    this.#pending = new PendingRequests({
      max: limits.maxQuestionsPerClient, timeoutMs: limits.questionTimeoutMs, what: `question to ${clientId}`,
      timeoutError: (_id, ms) => relayError('ERR_TIMEOUT', `no answer from ${clientId} in ${ms} ms`),
      fullError: (max) => signalingError('LIMIT_REACHED', `${clientId} has ${max} open questions`),
    });
  }

  /** Sends `question` to `sink`. Rejects ERR_TIMEOUT (no answer in time), ERR_ABORTED (signal), LIMIT_REACHED (too many open). */
  ask(sink: ClientSink, question: unknown, timeoutMs: number, awaited: boolean, signal?: AbortSignal): Promise<unknown> {
    const questionId = toHex(randomBytes(8));
    const answer = this.#pending.add(questionId, { timeoutMs, signal });
    if (!this.#pending.has(questionId)) return answer;
    if (!awaited) {
      this.#unawaited.add(questionId);
      const forget = () => { this.#unawaited.delete(questionId); };
      answer.then(forget, forget);
    }
    sink.send({ kind: 'question', questionId, question });
    return answer;
  }

  /** Settles an open question: 'awaited' or 'unawaited' (nobody waits: emit the answer), null if no such question is open. */
  answer(questionId: unknown, response: unknown): 'awaited' | 'unawaited' | null {
    if (typeof questionId !== 'string' || !this.#pending.has(questionId)) return null;
    const unawaited = this.#unawaited.delete(questionId);
    this.#pending.resolve(questionId, response);
    return unawaited ? 'unawaited' : 'awaited';
  }

  rejectAll(error: () => Error): void { this.#pending.rejectAll(error); }
}
