import type { Scheduler, TransitionRecord } from './scheduler.js';

/**
 * Drives one pure state machine for its shell: each event goes through the transition, the shell
 * runs the commands that come out, and every transition is reported (`onTransition`). Events raised
 * while commands run — an app listener that publishes, a transport that fails at once — wait their
 * turn (run to completion), so no transition ever starts from a state an unfinished one left behind.
 */
export class MachineRunner<State extends { phase: { kind: string } }, Event extends { type: string }, Command> {
  #state: State;
  readonly #queue: Event[] = [];
  #running = false;

  constructor(
    readonly machine: TransitionRecord['machine'],
    initial: State,
    private readonly transition: (state: State, event: Event) => { state: State; commands: readonly Command[] },
    private readonly run: (command: Command) => void,
    private readonly scheduler: Scheduler,
  ) {
    this.#state = initial;
  }

  get state(): State {
    return this.#state;
  }

  dispatch(event: Event): void {
    this.#queue.push(event);
    if (this.#running) return;
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const { state, commands } = this.transition(this.#state, next);
        this.scheduler.transition(this.machine, this.#state.phase.kind, next.type, state.phase.kind);
        this.#state = state;
        for (const command of commands) this.run(command);
      }
    } finally {
      this.#running = false;
    }
  }
}
