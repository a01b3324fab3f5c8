/**
 * MessagingPeer's application handlers (onMessage, onError, ...): the sets,
 * and calls that never let a handler break the client. A handler that throws
 * is reported to the error handlers as HANDLER_ERROR (an error handler that
 * throws is only logged).
 *
 * A message or server question that comes before any handler of its kind is
 * held (at most MESSAGING_LIMITS.maxEarlyInbound of each) and delivered, in
 * order, once the first handler is added: the seed's example adds its
 * handlers after `await connect()`, and a frame that came in the same socket
 * read as the register answer was dispatched before that await returned, and
 * lost. One past the bound is reported (onError NOT_DELIVERED), not dropped
 * silently.
 */
import debugFactory from 'debug';
import type { MessageInfo, MessagingError } from './inbound.js';
import { MESSAGING_LIMITS } from '../util/limits.js';

const debug = debugFactory('relaymesh:messaging');

export type ConnectionState = 'connected' | 'disconnected' | 'reconnecting';

export class PeerHandlers {
  readonly messages = new Set<(message: any, fromId: string, info: MessageInfo) => void>();
  readonly questions = new Set<(question: any, questionId: string) => void>();
  readonly errors = new Set<(error: MessagingError) => void>();
  readonly disconnects = new Set<(peerId: string) => void>();
  readonly states = new Set<(state: ConnectionState) => void>();

  /** Deliveries waiting for their kind's first handler (or for the microtask that hands them to it). */
  readonly #earlyMessages: (() => void)[] = [];
  readonly #earlyQuestions: (() => void)[] = [];

  addMessage(h: (message: any, fromId: string, info: MessageInfo) => void): void {
    this.messages.add(h);
    this.#release(this.#earlyMessages);
  }

  addQuestion(h: (question: any, questionId: string) => void): void {
    this.questions.add(h);
    this.#release(this.#earlyQuestions);
  }

  message(text: string, fromId: string, info: MessageInfo): void {
    const deliver = () => { for (const h of this.messages) this.#call(() => h(text, fromId, info)); };
    if (this.messages.size === 0 || this.#earlyMessages.length > 0) this.#hold(this.#earlyMessages, deliver, `a message from ${fromId}`);
    else deliver();
  }

  question(question: unknown, questionId: string): void {
    const deliver = () => { for (const h of this.questions) this.#call(() => h(question, questionId)); };
    if (this.questions.size === 0 || this.#earlyQuestions.length > 0) this.#hold(this.#earlyQuestions, deliver, `server question ${questionId}`);
    else deliver();
  }

  #hold(early: (() => void)[], deliver: () => void, what: string): void {
    if (early.length >= MESSAGING_LIMITS.maxEarlyInbound) {
      this.error({ type: 'NOT_DELIVERED', details: `${what} came before any handler and ${MESSAGING_LIMITS.maxEarlyInbound} already wait (maxEarlyInbound)`, code: 'ERR_QUEUE_FULL' });
      return;
    }
    early.push(deliver);
  }

  /** Hands what waited to the handlers, in order, on a microtask (not inside the on...() call that added one). */
  #release(early: (() => void)[]): void {
    if (early.length === 0) return;
    queueMicrotask(() => {
      // Anything that came meanwhile was appended, so order holds; delivery stops if every handler was removed again.
      while (early.length > 0 && (early === this.#earlyMessages ? this.messages : this.questions).size > 0) early.shift()!();
    });
  }

  peerDisconnected(peerId: string): void {
    for (const h of this.disconnects) this.#call(() => h(peerId));
  }

  state(state: ConnectionState): void {
    for (const h of this.states) this.#call(() => h(state));
  }

  error(error: MessagingError): void {
    debug('%s: %s', error.type, error.details);
    for (const h of this.errors) this.#call(() => h(error), false);
  }

  #call(fn: () => void, report = true): void {
    try {
      fn();
    } catch (err) {
      debug('handler threw: %s', (err as Error)?.message);
      if (report) this.error({ type: 'HANDLER_ERROR', details: String((err as Error)?.message ?? err) });
    }
  }
}
