import { test as base } from '@playwright/test';
import { openFriend, type Friend, type FriendOptions } from './party.js';
import { stackInfo, type StackInfo } from './stack.js';

interface Fixtures {
  stack: StackInfo;
  /** Opens a friend (own browser profile + severable proxy); closed after the test. */
  friend: (options: Omit<FriendOptions, 'appUrl'> & { appUrl?: string }) => Promise<Friend>;
}

export const test = base.extend<Fixtures>({
  // Playwright fixtures take their dependencies by destructuring.
  // eslint-disable-next-line no-empty-pattern
  stack: async ({}, use) => {
    await use(stackInfo());
  },
  friend: async ({ browser, stack }, use) => {
    const opened: Friend[] = [];
    await use(async (options) => {
      const friend = await openFriend(browser, { appUrl: stack.appUrl, ...options });
      opened.push(friend);
      return friend;
    });
    await Promise.all(opened.map((friend) => friend.close()));
  },
});

export { expect } from '@playwright/test';
