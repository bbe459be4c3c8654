import type { FoldedMessage, PublishHandle, Room } from '@partyline/sdk';
import type { QueuedAnnotation } from './checker.js';
import type { MemberEvent } from './member-events.js';

/** The few reaction keys members use: reactions pile up on one key and collide (noops, counts above one). */
export const REACTION_KEYS = ['👍', '🎉', '+1', 'eyes'] as const;

/** Of a member's actions that are not publishes, how often each kind comes (relative weights). */
const ANNOTATION_WEIGHTS = { edit: 3, delete: 2, react: 4, unreact: 2, read: 2 } as const;
type AnnotationAction = keyof typeof ANNOTATION_WEIGHTS;

/** Targets are picked among the newest messages a member holds, so members' annotations meet on the same ones. */
const RECENT_MESSAGES = 30;
/** Edits and deletes pick among its user's newest few: a user's two devices change the same messages. */
const RECENT_OWN_MESSAGES = 5;

/** The share of actions that are annotations or read marks when the run does not say. */
export const DEFAULT_ANNOTATION_RATIO = 0.4;

export interface TrafficOptions {
  room: Room;
  /** The member (its publishes carry it). */
  name: string;
  /** The token's sub: the member edits and deletes its user's messages, also those its other device sent. */
  user: string;
  /** Share of actions that annotate or mark read instead of publishing (0: publish only). */
  annotations: number;
  random: () => number;
  report(event: MemberEvent): void;
}

/**
 * A member's traffic, one action per call of `act()`: publish a numbered message or — `annotations`
 * of the time — edit or delete one of its user's messages, react to or unreact one it holds, or mark
 * the room read up to the newest seq it was handed. It acts on what its own view shows, online or not:
 * an edit of a message its user's other device deleted meanwhile is refused `message_deleted`, a
 * reaction it already holds is acked `noop` — both explicit outcomes the checker expects. Each call
 * that resolves (queued in the outbox) is reported.
 */
export function memberTraffic(options: TrafficOptions): { act(): void } {
  const { room, name, user, random, report } = options;
  let newestHanded = 0;
  let n = 0;
  room.on('message', ({ seq }) => (newestHanded = Math.max(newestHanded, seq)));
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(random() * items.length)];

  const publish = () =>
    room.publish('chat', { client: name, n: n++ }).then(
      (handle) => report({ t: 'queued', id: handle.id }),
      () => {},
    );

  const annotate = (type: QueuedAnnotation['type'], target: FoldedMessage, call: Promise<PublishHandle>, key?: string) =>
    call.then(
      (handle) => report({ t: 'annotation', annotation: { id: handle.id, type, target: { id: target.id, seq: target.seq, from: target.sender }, ...(key !== undefined ? { key } : {}) } }),
      () => {},
    );

  /** One annotation or read mark; false when the view holds nothing it applies to. */
  const tryAnnotation = (action: AnnotationAction): boolean => {
    if (action === 'read') {
      if (newestHanded === 0) return false;
      // Now and then an older seq: a read position never moves back.
      const seq = random() < 0.2 ? Math.max(1, newestHanded - Math.floor(random() * 5)) : newestHanded;
      room.markRead(seq).then(
        () => report({ t: 'mark', seq }),
        () => {},
      );
      return true;
    }
    const live = room.messages().slice(-RECENT_MESSAGES).filter((message) => !message.deleted);
    switch (action) {
      case 'edit':
      case 'delete': {
        const target = pick(live.filter((message) => message.sender === user).slice(-RECENT_OWN_MESSAGES));
        if (!target) return false;
        if (action === 'edit') void annotate('pl:edit', target, room.edit(target.id, { client: name, n: n++, edit: true }));
        else void annotate('pl:delete', target, room.delete(target.id));
        return true;
      }
      case 'react': {
        const target = pick(live);
        const key = pick(REACTION_KEYS)!;
        if (!target) return false;
        void annotate('pl:react', target, room.react(target.id, key), key);
        return true;
      }
      case 'unreact': {
        // Mostly a reaction it holds; sometimes one it does not (a noop).
        const held = live.flatMap((message) => Object.entries(message.reactions).filter(([, reaction]) => reaction.mine).map(([key]) => ({ message, key })));
        const choice = random() < 0.8 ? pick(held) : undefined;
        const target = choice?.message ?? pick(live);
        const key = choice?.key ?? pick(REACTION_KEYS)!;
        if (!target) return false;
        void annotate('pl:unreact', target, room.unreact(target.id, key), key);
        return true;
      }
    }
  };

  const chooseAnnotation = (): AnnotationAction => {
    const entries = Object.entries(ANNOTATION_WEIGHTS) as [AnnotationAction, number][];
    let roll = random() * entries.reduce((sum, [, weight]) => sum + weight, 0);
    for (const [action, weight] of entries) if ((roll -= weight) < 0) return action;
    return 'react';
  };

  return {
    act() {
      if (random() < options.annotations && tryAnnotation(chooseAnnotation())) return;
      void publish();
    },
  };
}
