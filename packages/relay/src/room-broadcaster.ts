import { ServerEvent, type LogLink, type LogMessage } from '@partyline/protocol';
import type { RelayServer } from './connection.js';

/** Where broadcasts go: the server (every relay, through the adapter) or `server.local` (this relay's members only). */
export type BroadcastTarget = Pick<RelayServer, 'to'> | RelayServer['local'];

interface PendingBroadcast {
  epoch: string;
  messages: LogMessage[];
  /** The message before each appended batch, when known. */
  links: LogLink[];
  /** The one socket every message came from, when it takes them from its acks (protocol 3): left out. */
  except: string | undefined;
}

/**
 * Coalesces the messages appended to a room within one event-loop turn into one `room:messages`
 * broadcast. Under load many publishes to a room finish in the same turn (their Redis replies
 * arrive in one read): one event for all of them is encoded once, crosses Redis once and costs each
 * member one frame instead of one per publish. Nothing waits for a timer — the batch leaves on the
 * next tick, after the turn's acks.
 */
export class RoomBroadcaster {
  private pending = new Map<string, PendingBroadcast>();
  private scheduled = false;

  /**
   * @param maxMessages most messages in one event: a coalesced event is never bigger than one full publish batch.
   * @param hasMembers with a local-only target: whether this relay has members in a room. Socket.IO encodes an
   *   event before it looks for sockets, so a room nobody here follows is skipped before the encoding.
   */
  constructor(
    private readonly io: BroadcastTarget,
    private readonly maxMessages: number,
    private readonly hasMembers: (room: string) => boolean = () => true,
  ) {}

  /**
   * Queues fresh messages of a room (in the order the log gave them seqs) and the id of the message
   * before them. `publisher`: the socket that published them and has them from its ack; it is left out
   * of the event unless the event also carries another publisher's messages (then it drops its own by seq).
   */
  add(room: string, epoch: string, messages: LogMessage[], previousId?: string, publisher?: string): void {
    let batch = this.pending.get(room);
    if (batch && batch.epoch !== epoch) {
      // The log was reset between two appends of this turn: the old epoch's messages go first, alone.
      this.emit(room, batch);
      batch = undefined;
    }
    if (!batch) {
      batch = { epoch, messages: [], links: [], except: publisher };
      this.pending.set(room, batch);
    } else if (batch.except !== publisher) batch.except = undefined;
    for (const message of messages) batch.messages.push(message);
    const first = messages[0];
    if (previousId !== undefined && first && first.seq > 1) batch.links.push({ seq: first.seq - 1, id: previousId });
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
    }
  }

  /** Sends everything queued (also called when the relay closes). */
  readonly flush = (): void => {
    this.scheduled = false;
    const batches = this.pending;
    this.pending = new Map();
    for (const [room, batch] of batches) this.emit(room, batch);
  };

  private emit(room: string, { epoch, messages, links, except }: PendingBroadcast): void {
    if (!this.hasMembers(room)) return;
    const target = except === undefined ? this.io.to(room) : this.io.to(room).except(except);
    // Appends to one room may resolve out of seq order (e.g. across a Redis reconnect); members expect ascending seqs.
    if (!isAscending(messages)) messages.sort((a, b) => a.seq - b.seq);
    if (messages.length <= this.maxMessages) {
      target.emit(ServerEvent.Messages, links.length > 0 ? { room, epoch, messages, links } : { room, epoch, messages });
      return;
    }
    for (let start = 0; start < messages.length; start += this.maxMessages) {
      const chunk = messages.slice(start, start + this.maxMessages);
      // Each chunk is an event of its own: it carries the links into it, and the one from the chunk before.
      const from = chunk[0]!.seq - 1;
      const to = chunk.at(-1)!.seq;
      const chunkLinks = links.filter((link) => link.seq >= from && link.seq < to);
      const before = messages[start - 1];
      if (before && before.seq === from && !chunkLinks.some((link) => link.seq === from)) chunkLinks.push({ seq: from, id: before.id });
      target.emit(ServerEvent.Messages, chunkLinks.length > 0 ? { room, epoch, messages: chunk, links: chunkLinks } : { room, epoch, messages: chunk });
    }
  }
}

function isAscending(messages: LogMessage[]): boolean {
  for (let i = 1; i < messages.length; i++) if (messages[i - 1]!.seq > messages[i]!.seq) return false;
  return true;
}
