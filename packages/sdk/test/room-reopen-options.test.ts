import { afterEach, describe, expect, it } from 'vitest';
import { PartylineError } from '../src/index.js';
import { closeAllClients, testClient } from './support/sdk-client.js';

// Issue 22 item 9: client.room(name, options) for a room already open must not drop `options` without a word.
afterEach(closeAllClients);

describe('client.room() for a room already open', () => {
  it('answers the same room for the same options, and refuses other ones with bad_request', () => {
    // No relay needed: the room is opened and looked up locally.
    const client = testClient({ relays: ['http://127.0.0.1:9'], token: 'e30.e30.sig' });
    const now = client.room('party:a', { from: 'now' });
    expect(client.room('party:a', { from: 'now' })).toBe(now);
    const refused = (() => {
      try {
        client.room('party:a');
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(PartylineError);
    expect(refused).toMatchObject({ kind: 'bad_request', retryable: false });
    expect((refused as Error).message).toMatch(/already open.*leave\(\)/);

    const position = client.room('party:b', { from: { epoch: 'e1', seq: 3, id: 'm3' } });
    expect(client.room('party:b', { from: { epoch: 'e1', seq: 3, id: 'm3' } })).toBe(position);
    expect(() => client.room('party:b', { from: { epoch: 'e1', seq: 4, id: 'm4' } })).toThrow(/leave\(\)/);
    expect(client.room('party:c')).toBe(client.room('party:c', { from: 'beginning' }));
    expect(() => client.room('party:c', { from: { last: 5 } })).toThrow(PartylineError);

    // After leave() the room opens with the new options.
    now.leave();
    expect(client.room('party:a', { from: { last: 20 } })).not.toBe(now);
  });
});
