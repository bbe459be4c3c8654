import type { ResetContext, RoomMessage } from '../src/index.js';
import type { ModelLog } from './model-log.js';

/**
 * What one tab's app sees of one room — `history()` at open, then every `message` and `reset`
 * event — checked as it happens against the model log (safety) and at the end against the log's
 * head (liveness). This is the G2 promise where the app looks, not the SDK's internals.
 */
export class AppView {
  /** The last seq handed in the current run; undefined before the first one (a view may start anywhere). */
  lastSeq: number | undefined;
  lastId: string | undefined;
  /** Ids handed since the run (re)started. */
  readonly #ids = new Set<string>();
  /** Events before history() answered: they must continue it. */
  #early: (() => void)[] | undefined = [];
  readonly violations: string[] = [];
  delivered = 0;
  resets = 0;
  errors: string[] = [];

  constructor(
    readonly tab: string,
    readonly room: string,
    readonly log: ModelLog,
  ) {}

  history(messages: readonly RoomMessage[]): void {
    for (const message of messages) this.#message(message, 'history');
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const run of early) run();
  }

  message(message: RoomMessage): void {
    if (this.#early) return void this.#early.push(() => this.#message(message, 'event'));
    this.#message(message, 'event');
  }

  reset(reset: ResetContext): void {
    if (this.#early) return void this.#early.push(() => this.reset(reset));
    this.resets++;
    const faults = this.log.faults.get(this.room);
    if (reset.reason === 'trimmed') {
      if (!faults?.has('trimmed')) this.#violate(`unexplained trimmed reset ${JSON.stringify(reset)}: the log was never trimmed`);
      if (this.lastSeq !== undefined && reset.fromSeq !== this.lastSeq + 1) this.#violate(`trimmed reset from ${reset.fromSeq} after seq ${this.lastSeq}`);
      this.lastSeq = reset.toSeq;
      this.lastId = undefined;
      return;
    }
    const explained = reset.reason === 'epoch_changed' ? faults?.has('log_lost') : faults?.has('tail_lost') || faults?.has('log_lost');
    if (!explained) this.#violate(`unexplained ${reset.reason} reset: the log lost nothing`);
    this.lastSeq = 0;
    this.lastId = undefined;
    this.#ids.clear();
  }

  #message(message: RoomMessage, source: string): void {
    this.delivered++;
    if (this.lastSeq !== undefined && message.seq !== this.lastSeq + 1) {
      this.#violate(`${source} handed seq ${message.seq} after ${this.lastSeq} (${message.seq <= this.lastSeq ? 'duplicate or reordered' : 'gap'})`);
    }
    if (this.#ids.has(message.id)) this.#violate(`${source} handed id ${message.id} twice`);
    const epochs = this.log.epochs.get(this.room) ?? [];
    if (!epochs.some((epoch) => this.log.ever.get(`${epoch}:${message.seq}`)?.has(message.id))) {
      this.#violate(`${source} handed seq ${message.seq} id ${message.id}, which the log never held there`);
    }
    this.#ids.add(message.id);
    this.lastSeq = message.seq;
    this.lastId = message.id;
  }

  /** Whether the view stands at the log's head (or the log holds nothing it could show). */
  caughtUp(): string | undefined {
    if (this.#early) return 'history() never answered';
    const room = this.log.rooms.get(this.room);
    if (!room || room.headSeq === 0) return this.lastSeq === undefined || this.lastSeq === 0 ? undefined : `the log is gone, the view still ends at ${this.lastSeq} with no reset`;
    if (this.lastSeq !== room.headSeq) return `the view ends at ${this.lastSeq ?? 'nothing'}, the log at ${room.headSeq}`;
    const head = this.log.at(this.room, room.headSeq);
    if (head && this.lastId !== undefined && head.id !== this.lastId) return `the view's seq ${this.lastSeq} is ${this.lastId}, the log's is ${head.id} (silently diverged)`;
    return undefined;
  }

  #violate(what: string): void {
    this.violations.push(`${this.tab} ${this.room}: ${what}`);
  }
}
