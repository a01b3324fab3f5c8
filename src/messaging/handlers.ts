/**
 * MessagingPeer's application handlers (onMessage, onError, ...): the sets,
 * and calls that never let a handler break the client. A handler that throws
 * is reported to the error handlers as HANDLER_ERROR (an error handler that
 * throws is only logged).
 */
import debugFactory from 'debug';
import type { MessageInfo, MessagingError } from './inbound.js';

const debug = debugFactory('relaymesh:messaging');

export type ConnectionState = 'connected' | 'disconnected' | 'reconnecting';

export class PeerHandlers {
  readonly messages = new Set<(message: any, fromId: string, info: MessageInfo) => void>();
  readonly questions = new Set<(question: any, questionId: string) => void>();
  readonly errors = new Set<(error: MessagingError) => void>();
  readonly disconnects = new Set<(peerId: string) => void>();
  readonly states = new Set<(state: ConnectionState) => void>();

  message(text: string, fromId: string, info: MessageInfo): void {
    for (const h of this.messages) this.#call(() => h(text, fromId, info));
  }

  question(question: unknown, questionId: string): void {
    for (const h of this.questions) this.#call(() => h(question, questionId));
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
