import type { PartylineError } from './errors.js';
import type { MessageStatus, PublishHandle } from './room.js';

/** How a queued message ended: in the room log at `seq`, or refused, expired, or the client closed first. */
export type QueuedOutcome = { seq: number } | { error: PartylineError };

/**
 * What `publish` answers for a message this tab queued. Its `sent` promise is made when first read:
 * an app publishing thousands a second mostly never reads it, and a promise, its two resolvers and
 * its rejection guard per message were a measurable share of the enqueue path's garbage.
 */
export class QueuedHandle implements PublishHandle {
  status: MessageStatus = 'pending';
  #outcome: QueuedOutcome | undefined;
  #sent: Promise<{ seq: number }> | undefined;
  #settleSent: ((outcome: QueuedOutcome) => void) | undefined;

  constructor(
    readonly id: string,
    readonly room: string,
  ) {}

  get sent(): Promise<{ seq: number }> {
    if (!this.#sent) {
      this.#sent = new Promise((resolve, reject) => {
        const settle = (outcome: QueuedOutcome) => ('error' in outcome ? reject(outcome.error) : resolve(outcome));
        if (this.#outcome) settle(this.#outcome);
        else this.#settleSent = settle;
      });
      this.#sent.catch(() => {}); // an app that ignores `sent` must not get unhandled rejections
    }
    return this.#sent;
  }

  /** The first outcome wins, as a promise's would. */
  settle(outcome: QueuedOutcome): void {
    if (this.#outcome) return;
    this.#outcome = outcome;
    this.#settleSent?.(outcome);
  }
}
