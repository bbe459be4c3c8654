/**
 * The party's state is derived from the room's ordered log, and nothing else: every friend folds
 * the same messages in the same order (the relay's sequence) through these pure functions, so
 * every friend sees the same checklist, the same vote counts and the same winner.
 *
 * Conflicts are settled by log order: the first claim of an item wins, a later vote by the same
 * person replaces their earlier one, an option proposed twice (same label) is one option.
 */

/** Message types the planner publishes. */
export const PartyMessageType = {
  Create: 'party:create',
  Join: 'member:join',
  Chat: 'chat',
  ItemAdd: 'item:add',
  ItemClaim: 'item:claim',
  ItemUnclaim: 'item:unclaim',
  ItemDone: 'item:done',
  PollOption: 'poll:option',
  PollVote: 'poll:vote',
} as const;
export type PartyMessageType = (typeof PartyMessageType)[keyof typeof PartyMessageType];

export type PollKind = 'date' | 'venue';

/** One message of the room as the reducer sees it: log messages have a seq, own pending ones do not. */
export interface PartyEvent {
  /** The message id (idempotency key); pending and logged copies of one message share it. */
  id: string;
  type: string;
  body: unknown;
  /** Token subject of the author. */
  sender: string;
  /** Log position; undefined while the message waits in the outbox. */
  seq?: number | undefined;
  /** Relay time of the append (ms), when logged. */
  ts?: number | undefined;
}

export interface ChatLine {
  id: string;
  seq: number | undefined;
  sender: string;
  text: string;
  ts: number | undefined;
}

export interface ChecklistItem {
  itemId: string;
  label: string;
  addedBy: string;
  claimedBy: string | undefined;
  done: boolean;
  /** Ids of the messages that shaped this item, oldest first (for pending/sent markers). */
  changeIds: string[];
}

export interface PollOption {
  optionId: string;
  label: string;
  proposedBy: string;
  /** Voters in the order their (current) vote was cast. */
  voters: string[];
  changeIds: string[];
}

export interface Poll {
  kind: PollKind;
  options: PollOption[];
  /** sender → optionId of their current vote. */
  votes: Record<string, string>;
}

export interface PartyState {
  title: string | undefined;
  host: string | undefined;
  /** sender (token subject) → display name. */
  members: Record<string, string>;
  /** Senders in order of their first appearance. */
  memberOrder: string[];
  chat: ChatLine[];
  items: ChecklistItem[];
  polls: Record<PollKind, Poll>;
  /** Highest log seq folded in (0 = none). */
  lastSeq: number;
  /** Messages that were not understood (wrong shape); counted, never fatal. */
  ignored: number;
}

export const MAX_TEXT = 2000;
export const MAX_LABEL = 120;

export function emptyPartyState(): PartyState {
  return {
    title: undefined,
    host: undefined,
    members: {},
    memberOrder: [],
    chat: [],
    items: [],
    polls: {
      date: { kind: 'date', options: [], votes: {} },
      venue: { kind: 'venue', options: [], votes: {} },
    },
    lastSeq: 0,
    ignored: 0,
  };
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function text(value: unknown, max: number): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  return trimmed.length > 0 && trimmed.length <= max ? trimmed : undefined;
}

function pollKind(value: unknown): PollKind | undefined {
  return value === 'date' || value === 'venue' ? value : undefined;
}

function sameLabel(a: string, b: string): boolean {
  return a.localeCompare(b, undefined, { sensitivity: 'accent' }) === 0;
}

function addMember(state: PartyState, sender: string, name: string | undefined): PartyState {
  const known = sender in state.members;
  if (known && (name === undefined || state.members[sender] === name)) return state;
  return {
    ...state,
    members: { ...state.members, [sender]: name ?? state.members[sender] ?? 'Guest' },
    memberOrder: known ? state.memberOrder : [...state.memberOrder, sender],
  };
}

function updateItem(state: PartyState, itemId: string, change: (item: ChecklistItem) => ChecklistItem | undefined): PartyState {
  const index = state.items.findIndex((item) => item.itemId === itemId);
  const item = state.items[index];
  if (!item) return { ...state, ignored: state.ignored + 1 };
  const next = change(item);
  if (!next) return state;
  const items = state.items.slice();
  items[index] = next;
  return { ...state, items };
}

function addOption(state: PartyState, kind: PollKind, optionId: string, label: string, sender: string, id: string): PartyState {
  const poll = state.polls[kind];
  if (poll.options.some((option) => option.optionId === optionId || sameLabel(option.label, label))) return state;
  const option: PollOption = { optionId, label, proposedBy: sender, voters: [], changeIds: [id] };
  return { ...state, polls: { ...state.polls, [kind]: { ...poll, options: [...poll.options, option] } } };
}

function castVote(state: PartyState, kind: PollKind, target: string, sender: string, id: string): PartyState {
  const poll = state.polls[kind];
  // A vote may name an option by id, or by label (an option proposed twice is one option).
  const chosen = poll.options.find((option) => option.optionId === target) ?? poll.options.find((option) => sameLabel(option.label, target));
  if (!chosen) return { ...state, ignored: state.ignored + 1 };
  const previous = poll.votes[sender];
  const options = poll.options.map((option) => {
    if (option.optionId === chosen.optionId) {
      return {
        ...option,
        voters: [...option.voters.filter((voter) => voter !== sender), sender],
        changeIds: [...option.changeIds, id],
      };
    }
    if (option.optionId === previous) return { ...option, voters: option.voters.filter((voter) => voter !== sender) };
    return option;
  });
  return { ...state, polls: { ...state.polls, [kind]: { ...poll, options, votes: { ...poll.votes, [sender]: chosen.optionId } } } };
}

/** Folds one message into the state. Pure: returns a new state, never mutates the old one. */
export function reduceParty(state: PartyState, event: PartyEvent): PartyState {
  const next = event.seq !== undefined && event.seq > state.lastSeq ? { ...state, lastSeq: event.seq } : state;
  const body = record(event.body);
  if (!body) return { ...next, ignored: next.ignored + 1 };
  const { sender, id } = event;

  switch (event.type) {
    case PartyMessageType.Create: {
      if (next.title !== undefined) return next; // only the first create counts
      const title = text(body.title, MAX_LABEL);
      const name = text(body.name, MAX_LABEL);
      if (!title) return { ...next, ignored: next.ignored + 1 };
      let created: PartyState = { ...addMember(next, sender, name), title, host: sender };
      const date = text(body.date, MAX_LABEL);
      if (date) created = castVote(addOption(created, 'date', `${id}:date`, date, sender, id), 'date', `${id}:date`, sender, id);
      const venue = text(body.venue, MAX_LABEL);
      if (venue) created = castVote(addOption(created, 'venue', `${id}:venue`, venue, sender, id), 'venue', `${id}:venue`, sender, id);
      return created;
    }
    case PartyMessageType.Join:
      return addMember(next, sender, text(body.name, MAX_LABEL));
    case PartyMessageType.Chat: {
      const line = text(body.text, MAX_TEXT);
      if (!line) return { ...next, ignored: next.ignored + 1 };
      return { ...addMember(next, sender, undefined), chat: [...next.chat, { id, seq: event.seq, sender, text: line, ts: event.ts }] };
    }
    case PartyMessageType.ItemAdd: {
      const itemId = text(body.itemId, 64);
      const label = text(body.label, MAX_LABEL);
      if (!itemId || !label || next.items.some((item) => item.itemId === itemId)) return { ...next, ignored: next.ignored + 1 };
      const item: ChecklistItem = { itemId, label, addedBy: sender, claimedBy: undefined, done: false, changeIds: [id] };
      return { ...next, items: [...next.items, item] };
    }
    case PartyMessageType.ItemClaim: {
      const itemId = text(body.itemId, 64);
      if (!itemId) return { ...next, ignored: next.ignored + 1 };
      // The first claim in log order wins; a later claim of a claimed item changes nothing.
      return updateItem(next, itemId, (item) => (item.claimedBy === undefined ? { ...item, claimedBy: sender, changeIds: [...item.changeIds, id] } : undefined));
    }
    case PartyMessageType.ItemUnclaim: {
      const itemId = text(body.itemId, 64);
      if (!itemId) return { ...next, ignored: next.ignored + 1 };
      return updateItem(next, itemId, (item) => (item.claimedBy === sender ? { ...item, claimedBy: undefined, changeIds: [...item.changeIds, id] } : undefined));
    }
    case PartyMessageType.ItemDone: {
      const itemId = text(body.itemId, 64);
      if (!itemId || typeof body.done !== 'boolean') return { ...next, ignored: next.ignored + 1 };
      const done = body.done;
      return updateItem(next, itemId, (item) => ({ ...item, done, changeIds: [...item.changeIds, id] }));
    }
    case PartyMessageType.PollOption: {
      const kind = pollKind(body.poll);
      const optionId = text(body.optionId, 64);
      const label = text(body.label, MAX_LABEL);
      if (!kind || !optionId || !label) return { ...next, ignored: next.ignored + 1 };
      return addOption(next, kind, optionId, label, sender, id);
    }
    case PartyMessageType.PollVote: {
      const kind = pollKind(body.poll);
      const optionId = text(body.optionId, MAX_LABEL);
      if (!kind || !optionId) return { ...next, ignored: next.ignored + 1 };
      return castVote(next, kind, optionId, sender, id);
    }
    default:
      return { ...next, ignored: next.ignored + 1 };
  }
}

/**
 * The state every friend agrees on (the log, in seq order) with this friend's own queued
 * messages applied on top, in outbox order. A message already in the log is not applied twice.
 */
export function deriveParty(log: readonly PartyEvent[], pending: readonly PartyEvent[] = []): PartyState {
  let state = emptyPartyState();
  const logged = new Set<string>();
  for (const event of log) {
    logged.add(event.id);
    state = reduceParty(state, event);
  }
  return applyPending(state, pending, (id) => logged.has(id));
}

/**
 * Own queued messages on top of a state already folded from the log (in outbox order), skipping
 * those the log already holds (`isLogged`): the app folds the log once, incrementally, and only
 * this overlay again when the outbox changes.
 */
export function applyPending(state: PartyState, pending: readonly PartyEvent[], isLogged: (id: string) => boolean): PartyState {
  let next = state;
  for (const event of pending) {
    if (!isLogged(event.id)) next = reduceParty(next, { ...event, seq: undefined });
  }
  return next;
}

/** The option with the most votes; a tie goes to the option proposed first. */
export function leadingOption(poll: Poll): PollOption | undefined {
  let best: PollOption | undefined;
  for (const option of poll.options) {
    if (option.voters.length > 0 && (!best || option.voters.length > best.voters.length)) best = option;
  }
  return best;
}

export function displayName(state: PartyState, sender: string): string {
  return state.members[sender] ?? 'Guest';
}
