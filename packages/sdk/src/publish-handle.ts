import type { PartylineError } from './errors.js';
import type { MessageStatus, PublishHandle } from './room.js';

type Outcome = { seq: number } | { error: PartylineError };

/**
 * What `publish` answers for a message this tab queued. Its `sent` promise is made when first read:
 * an app publishing thousands a second mostly never reads it, and a promise, its two resolvers and
 * its rejection guard per message were a measurable share of the enqueue path's garbage.
 */
export class QueuedHandle implements PublishHandle {
  status: MessageStatus = 'pending';
  #outcome: Outcome | undefined;
  #sent: Promise<{ seq: number }> | undefined;
  #settle: ((outcome: Outcome) => void) | undefined;

  constructor(
    readonly id: string,
    readonly room: string,
  ) {}

  get sent(): Promise<{ seq: number }> {
    if (!this.#sent) {
      const outcome = this.#outcome;
      this.#sent = outcome
        ? 'error' in outcome
          ? Promise.reject(outcome.error)
          : Promise.resolve(outcome)
        : new Promise((resolve, reject) => (this.#settle = (settled) => ('error' in settled ? reject(settled.error) : resolve(settled))));
      this.#sent.catch(() => {}); // an app that ignores `sent` must not get unhandled rejections
    }
    return this.#sent;
  }

  /** In the room log at `seq`. The first outcome wins, as a promise's would. */
  resolve(value: { seq: number }): void {
    this.#end(value);
  }

  /** Refused, expired, or the client closed first. */
  reject(error: PartylineError): void {
    this.#end({ error });
  }

  #end(outcome: Outcome): void {
    if (this.#outcome) return;
    this.#outcome = outcome;
    this.#settle?.(outcome);
  }
}
