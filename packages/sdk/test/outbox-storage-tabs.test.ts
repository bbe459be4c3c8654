/**
 * Regression tests (issue 22, item 11, storage): the profile's database as other tabs and reloads
 * change it under a client.
 * (a) A room's entries are sent in id order and ids are time-ordered: a reload whose clock stepped
 *     back made ids below the ones already queued, so the new message went first.
 * (b) Another tab upgrading (or deleting) the database closes this tab's connection: every later
 *     transaction failed, and the tab could not publish until reloaded.
 * (c) An older tab that does not let go of the database blocks the upgrade: opening waited forever,
 *     and so did `publish()`, with no word to the app.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { waitFor } from '@partyline/test-support';
import { systemClock } from '../src/clock.js';
import type { PartylineError } from '../src/index.js';
import { closeAllClients, newDevice, testClient } from './support/sdk-client.js';
import { tokenFor } from './support/relays.js';

afterEach(() => closeAllClients());

/** No relay listens here: everything stays queued. */
const NOWHERE = ['http://127.0.0.1:1'];

function done<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

describe('outbox order across a reload', () => {
  it('keeps publish order when the clock stepped back between two sessions', async () => {
    const device = newDevice();
    const token = await tokenFor('alice');
    const first = testClient({ relays: NOWHERE, token, indexedDB: device });
    const before = await first.room('order').publish('chat', { n: 1 });
    await first.close();
    // A reload: a fresh SDK (no id state in memory), an hour behind the first session's clock.
    vi.resetModules();
    const { createClient } = await import('../src/index.js');
    const behind = { ...systemClock, now: () => Date.now() - 3_600_000 };
    const second = createClient({ relays: NOWHERE, token, indexedDB: device, clock: behind });
    try {
      const after = await second.room('order').publish('chat', { n: 2 });
      expect((await second.inspect()).outbox.map((entry) => entry.id)).toEqual([before.id, after.id]);
    } finally {
      await second.close();
    }
  });
});

describe('another tab changes the database', () => {
  it('publishes again after another tab upgraded the database to a newer version', async () => {
    const device = newDevice();
    const client = testClient({ relays: NOWHERE, token: await tokenFor('alice'), indexedDB: device });
    const room = client.room('upgraded');
    const one = await room.publish('chat', { n: 1 });
    // A newer SDK in another tab: version 4 adds a store (this tab's connection gets `versionchange`).
    const upgrade = device.open('partyline', 4);
    upgrade.onupgradeneeded = () => upgrade.result.createObjectStore('extra');
    (await done(upgrade)).close();
    const two = await room.publish('chat', { n: 2 });
    expect((await room.pending()).map((entry) => entry.id)).toEqual([one.id, two.id]);
  });

  it('publishes again after another tab deleted the database', async () => {
    const device = newDevice();
    const client = testClient({ relays: NOWHERE, token: await tokenFor('alice'), indexedDB: device });
    const room = client.room('deleted');
    await room.publish('chat', { n: 1 });
    await done(device.deleteDatabase('partyline'));
    const two = await room.publish('chat', { n: 2 });
    expect((await room.pending()).map((entry) => entry.id)).toEqual([two.id]);
  });

  it('reports a blocked upgrade instead of waiting, and publishes once the older tab lets go', async () => {
    const device = newDevice();
    // An older SDK's tab that holds version 2 open and ignores `versionchange`.
    const old = device.open('partyline', 2);
    old.onupgradeneeded = () => {
      old.result.createObjectStore('outbox', { keyPath: ['room', 'id'] });
      old.result.createObjectStore('inbox', { keyPath: ['room', 'seq'] }).createIndex('room', 'room');
      old.result.createObjectStore('cursors', { keyPath: 'room' });
    };
    const oldTab = await done(old);
    const client = testClient({ relays: NOWHERE, token: await tokenFor('alice'), indexedDB: device });
    const errors: PartylineError[] = [];
    client.on('error', ({ error }) => errors.push(error));
    const room = client.room('blocked');
    let outcome: unknown;
    room.publish('chat', { n: 1 }).then((handle) => (outcome = handle), (error: unknown) => (outcome = error));
    await waitFor(() => outcome, 'publish answered while the upgrade is blocked', 5_000);
    expect(outcome).toMatchObject({ kind: 'storage', retryable: true });
    await waitFor(() => errors.some((error) => error.kind === 'storage'), 'a storage error event', 5_000);
    oldTab.close();
    await waitFor(async () => {
      try {
        return await room.publish('chat', { n: 2 });
      } catch {
        return undefined;
      }
    }, 'publish after the older tab closed', 5_000);
  });
});
