import { KeyedList } from './persistent-list.js';

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

export interface ChecklistItem {
  itemId: string;
  label: string;
  addedBy: string;
  claimedBy: string | undefined;
  done: boolean;
  /** sender → id of their latest message that shaped this item (what their pending/sent marker follows). */
  changedBy: ReadonlyMap<string, string>;
}

export interface PollOption {
  optionId: string;
  label: string;
  proposedBy: string;
  /** Voters in the order their (current) vote was cast. */
  voters: readonly string[];
  /** sender → id of their latest message about this option (proposal or vote). */
  changedBy: ReadonlyMap<string, string>;
}

export interface Poll {
  kind: PollKind;
  /** In the order proposed, found by option id. */
  options: KeyedList<PollOption>;
  /** Option ids by {@link labelKey} of their label: an option proposed twice is one option. */
  labels: KeyedList<{ key: string; optionId: string }>;
  /** sender → optionId of their current vote. */
  votes: ReadonlyMap<string, string>;
}

/**
 * The party as its log says. Maps are `Map`s and the lists are keyed by strings in `Map`s, never
 * plain objects: ids come from other people's messages, and `__proto__`, `constructor` or
 * `toString` must be ids like any other.
 *
 * Folding one more message costs O(1) in the length of the log (items, options and their changes
 * live in persistent lists, see `persistent-list.ts`); a join or a vote copies a map of the party's
 * members or of one poll's voters, which is no more than showing them costs. Chat lines are not
 * folded here: they are the SDK's folded messages (edits, deletions, reactions), see `chat-lines.ts`;
 * a chat message only makes its sender a member.
 */
export interface PartyState {
  title: string | undefined;
  host: string | undefined;
  /** sender (token subject) → display name, in order of their first appearance. */
  members: ReadonlyMap<string, string>;
  /** Checklist items in the order added, found by item id. */
  items: KeyedList<ChecklistItem>;
  polls: { readonly [kind in PollKind]: Poll };
  /** Highest log seq folded in (0 = none). */
  lastSeq: number;
  /** Messages that were not understood (wrong shape); counted, never fatal. */
  ignored: number;
}

export const MAX_TEXT = 2000;
export const MAX_LABEL = 120;

function emptyPoll(kind: PollKind): Poll {
  return { kind, options: KeyedList.empty((option) => option.optionId), labels: KeyedList.empty((entry) => entry.key), votes: new Map() };
}

export function emptyPartyState(): PartyState {
  return {
    title: undefined,
    host: undefined,
    members: new Map(),
    items: KeyedList.empty((item) => item.itemId),
    polls: { date: emptyPoll('date'), venue: emptyPoll('venue') },
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

/** The text of a chat message body, if it is one: 1–{@link MAX_TEXT} characters, trimmed. */
export function chatText(body: unknown): string | undefined {
  return text(record(body)?.text, MAX_TEXT);
}

function pollKind(value: unknown): PollKind | undefined {
  return value === 'date' || value === 'venue' ? value : undefined;
}

/**
 * What makes two option labels the same option: case-insensitive, accent-sensitive, Unicode
 * compatibility forms folded — and the same for every friend. (`localeCompare` would follow each
 * viewer's locale, and friends in Istanbul and in Berlin could fold one log to two winners.)
 */
export function labelKey(label: string): string {
  return label.normalize('NFKC').toUpperCase().toLowerCase();
}

function addMember(state: PartyState, sender: string, name: string | undefined): PartyState {
  const known = state.members.get(sender);
  if (known !== undefined && (name === undefined || known === name)) return state;
  // Map.set on a known key keeps its place: the order stays the order of first appearance.
  return { ...state, members: new Map(state.members).set(sender, name ?? known ?? 'Guest') };
}

function changed<T extends { changedBy: ReadonlyMap<string, string> }>(value: T, sender: string, id: string): T {
  return { ...value, changedBy: new Map(value.changedBy).set(sender, id) };
}

function updateItem(state: PartyState, itemId: string, change: (item: ChecklistItem) => ChecklistItem | undefined): PartyState {
  if (!state.items.has(itemId)) return { ...state, ignored: state.ignored + 1 };
  const items = state.items.update(itemId, change);
  return items === state.items ? state : { ...state, items };
}

function withPoll(state: PartyState, poll: Poll): PartyState {
  return { ...state, polls: { ...state.polls, [poll.kind]: poll } };
}

function addOption(state: PartyState, kind: PollKind, optionId: string, label: string, sender: string, id: string): PartyState {
  const poll = state.polls[kind];
  const key = labelKey(label);
  if (poll.options.has(optionId) || poll.labels.has(key)) return state;
  const option: PollOption = { optionId, label, proposedBy: sender, voters: [], changedBy: new Map([[sender, id]]) };
  return withPoll(state, { ...poll, options: poll.options.push(option), labels: poll.labels.push({ key, optionId }) });
}

function castVote(state: PartyState, kind: PollKind, target: string, sender: string, id: string): PartyState {
  const poll = state.polls[kind];
  // A vote may name an option by id, or by label (an option proposed twice is one option).
  const chosen = poll.options.get(target) ?? poll.options.get(poll.labels.get(labelKey(target))?.optionId ?? '');
  if (!chosen) return { ...state, ignored: state.ignored + 1 };
  const previous = poll.votes.get(sender);
  let options = poll.options.update(chosen.optionId, (option) => changed({ ...option, voters: [...option.voters.filter((voter) => voter !== sender), sender] }, sender, id));
  if (previous !== undefined && previous !== chosen.optionId) {
    options = options.update(previous, (option) => ({ ...option, voters: option.voters.filter((voter) => voter !== sender) }));
  }
  return withPoll(state, { ...poll, options, votes: new Map(poll.votes).set(sender, chosen.optionId) });
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
    case PartyMessageType.Chat:
      return chatText(body) === undefined ? { ...next, ignored: next.ignored + 1 } : addMember(next, sender, undefined);
    case PartyMessageType.ItemAdd: {
      const itemId = text(body.itemId, 64);
      const label = text(body.label, MAX_LABEL);
      if (!itemId || !label || next.items.has(itemId)) return { ...next, ignored: next.ignored + 1 };
      const item: ChecklistItem = { itemId, label, addedBy: sender, claimedBy: undefined, done: false, changedBy: new Map([[sender, id]]) };
      return { ...next, items: next.items.push(item) };
    }
    case PartyMessageType.ItemClaim: {
      const itemId = text(body.itemId, 64);
      if (!itemId) return { ...next, ignored: next.ignored + 1 };
      // The first claim in log order wins; a later claim of a claimed item changes nothing.
      return updateItem(next, itemId, (item) => (item.claimedBy === undefined ? changed({ ...item, claimedBy: sender }, sender, id) : undefined));
    }
    case PartyMessageType.ItemUnclaim: {
      const itemId = text(body.itemId, 64);
      if (!itemId) return { ...next, ignored: next.ignored + 1 };
      return updateItem(next, itemId, (item) => (item.claimedBy === sender ? changed({ ...item, claimedBy: undefined }, sender, id) : undefined));
    }
    case PartyMessageType.ItemDone: {
      const itemId = text(body.itemId, 64);
      if (!itemId || typeof body.done !== 'boolean') return { ...next, ignored: next.ignored + 1 };
      const done = body.done;
      return updateItem(next, itemId, (item) => changed({ ...item, done }, sender, id));
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
  if (pending.length === 0) return state;
  // A branch: what the queue adds stays with it, so the log's state keeps growing in O(1) per message.
  const branch = (poll: Poll): Poll => ({ ...poll, options: poll.options.branch(), labels: poll.labels.branch() });
  let next: PartyState = { ...state, items: state.items.branch(), polls: { date: branch(state.polls.date), venue: branch(state.polls.venue) } };
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
  return state.members.get(sender) ?? 'Guest';
}
