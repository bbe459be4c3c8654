import type { LogMessage, RoomPage } from '@partyline/protocol';

/**
 * Where one tab's app stands in a room: the last message handed to it (its seq and id) in a log
 * `epoch`. `branch` names the shared cache's history within the epoch: it changes when a tab finds
 * the log diverged, so tabs never mix a cache of the old history into the new one.
 * `epoch` is undefined while the tab has never seen the room's log.
 */
export interface ViewPosition {
  epoch: string | undefined;
  lastSeq: number;
  lastId: string | undefined;
  branch: string;
}

/** What a position asks of a relay: the page after `since`, checked against what the tab has. */
export interface PositionRequest {
  since: number;
  epoch?: string;
  sinceId?: string;
}

export function positionRequest(view: ViewPosition): PositionRequest {
  return {
    since: view.lastSeq,
    ...(view.epoch !== undefined ? { epoch: view.epoch } : {}),
    ...(view.lastId !== undefined ? { sinceId: view.lastId } : {}),
  };
}

/**
 * What a page of the log means for a view:
 * - `restart`: the tab's history is not the log's any more (`epoch_changed`: the log was lost and
 *   began again; `diverged`: same epoch, but the log no longer holds what the tab has, e.g. a store
 *   that lost its unsynced tail handed those sequences out again). The view starts over.
 * - `deliver`: `messages` continue the view exactly (possibly none); `trimmed` first when the log's
 *   retention dropped `fromSeq..toSeq` before the tab read them.
 */
export type PageDecision =
  | { kind: 'restart'; reason: 'epoch_changed' | 'diverged'; toSeq: number }
  | { kind: 'deliver'; messages: LogMessage[]; trimmed?: { fromSeq: number; toSeq: number } };

/**
 * Decides a page against the view as it is now. `request` is the position the page was asked for
 * (the view may have moved on meanwhile through live messages; those overlap the page and are
 * skipped, after checking that the page holds the same message at the view's last seq).
 */
export function decidePage(view: ViewPosition, page: RoomPage, request: PositionRequest): PageDecision {
  if (view.epoch !== undefined && page.epoch !== view.epoch) return { kind: 'restart', reason: 'epoch_changed', toSeq: view.lastSeq };
  if (view.epoch !== undefined) {
    const atLast = page.messages.find((message) => message.seq === view.lastSeq);
    const lost =
      page.diverged === true ||
      // Against the position asked for: live messages may have moved the view past the head read.
      page.headSeq < request.since ||
      (atLast !== undefined && view.lastId !== undefined && atLast.id !== view.lastId);
    if (lost) return { kind: 'restart', reason: 'diverged', toSeq: view.lastSeq };
  }
  const trimmed = page.firstSeq > view.lastSeq + 1 ? { fromSeq: view.lastSeq + 1, toSeq: page.firstSeq - 1 } : undefined;
  const after = trimmed ? trimmed.toSeq : view.lastSeq;
  return { kind: 'deliver', messages: continuing(after, page.messages), ...(trimmed ? { trimmed } : {}) };
}

/** The run of `messages` (ascending) that continues `lastSeq` without a gap; earlier ones are skipped. */
export function continuing(lastSeq: number, messages: readonly LogMessage[]): LogMessage[] {
  const run: LogMessage[] = [];
  let next = lastSeq + 1;
  for (const message of messages) {
    if (message.seq < next) continue;
    if (message.seq !== next) break;
    run.push(message);
    next++;
  }
  return run;
}

/** A live message waiting for its turn, with the id the log holds just before it, when the relay said. */
export interface LiveEntry {
  message: LogMessage;
  epoch: string;
  previousId: string | undefined;
}

/**
 * The ids before each live message of one `room:messages` event: the message before it in the
 * same event, or the relay's link for the start of an appended batch.
 */
export function liveEntries(epoch: string, messages: readonly LogMessage[], links: readonly { seq: number; id: string }[] = []): LiveEntry[] {
  const linked = new Map(links.map((link) => [link.seq, link.id]));
  return messages.map((message, i) => {
    const before = messages[i - 1];
    const previousId = before && before.seq === message.seq - 1 ? before.id : linked.get(message.seq - 1);
    return { message, epoch, previousId };
  });
}

/**
 * Whether a live entry contradicts what the tab was handed: it names another id at a seq the tab
 * knows (`idAt`: the view's last message and a window of recent ones), as its own or as the one
 * before it. Such a live stream belongs to a log that no longer holds what the tab has (a store lost
 * its tail and reused those sequences) — a positioned read decides.
 */
export function contradicts(view: ViewPosition, entry: LiveEntry, idAt: (seq: number) => string | undefined): boolean {
  if (entry.epoch !== view.epoch) return false;
  const { seq, id } = entry.message;
  const known = seq <= view.lastSeq ? idAt(seq) : undefined;
  if (known !== undefined && known !== id) return true;
  const before = seq - 1 <= view.lastSeq ? idAt(seq - 1) : undefined;
  return entry.previousId !== undefined && before !== undefined && before !== entry.previousId;
}
