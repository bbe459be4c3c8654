import { systemClock } from '../src/clock.js';
import { describe, expect, it } from 'vitest';
import { createTabCoordinator, type TabEnvironment, type TabMessage } from '../src/tab-coordinator.js';
import { waitFor } from '@partyline/test-support';

/** Two tabs over one in-process channel: every postMessage is recorded, then delivered to the other tab. */
function twoTabs() {
  const posts: TabMessage[][] = [];
  const heard: TabMessage[] = [];
  const listeners = new Map<string, { onmessage: ((event: MessageEvent) => void) | null }>();
  const environment = (tab: string): TabEnvironment => ({
    locks: { request: async () => undefined, query: async () => ({ held: [], pending: [] }) } as unknown as TabEnvironment['locks'],
    channel: () => {
      const channel = {
        onmessage: null as ((event: MessageEvent) => void) | null,
        postMessage(data: TabMessage[]) {
          posts.push(data);
          for (const [other, peer] of listeners) if (other !== tab) queueMicrotask(() => peer.onmessage?.({ data } as MessageEvent));
        },
        close() {},
      };
      listeners.set(tab, channel);
      return channel;
    },
  });
  const open = (tab: string, onMessage: (message: TabMessage) => void) =>
    createTabCoordinator({ name: 'db', shared: true, environment: environment(tab), stealAfterMs: 1000, clock: systemClock, onMessage });
  return { posts, heard, sender: open('a', () => {}), receiver: open('b', (message) => heard.push(message)) };
}

const added = (i: number): TabMessage => ({ type: 'outbox:added', room: 'r', id: `id-${i}` });

describe('tab coordinator posts', () => {
  it('tells the other tab of every message, a burst spread over many turns in few posts', async () => {
    const { posts, heard, sender, receiver } = twoTabs();
    try {
      for (let i = 0; i < 50; i++) {
        sender.post(added(i));
        await new Promise((resolve) => setTimeout(resolve, 1)); // one publish a turn, as group commits settle
      }
      await waitFor(() => heard.length === 50, 'all 50 heard');
      expect(heard.map((message) => message.id)).toEqual(Array.from({ length: 50 }, (_, i) => `id-${i}`));
      // The first leaves at once (the other tab wakes now), the rest in windows, not one post per turn.
      expect(posts[0]).toEqual([added(0)]);
      expect(posts.length).toBeLessThan(25);
    } finally {
      sender.close();
      receiver.close();
    }
  });

  it('sends what it holds back at once on flush() and on close()', async () => {
    const { posts, sender, receiver } = twoTabs();
    try {
      sender.post(added(1));
      await Promise.resolve();
      await Promise.resolve();
      expect(posts).toEqual([[added(1)]]);
      sender.post(added(2)); // inside the window: held back
      await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
      expect(posts).toHaveLength(1);
      sender.flush(); // the page is going away
      expect(posts).toEqual([[added(1)], [added(2)]]);
      sender.post(added(3));
      sender.close();
      expect(posts).toEqual([[added(1)], [added(2)], [added(3)]]);
    } finally {
      receiver.close();
    }
  });
});
