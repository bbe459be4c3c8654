import type { Room, RoomMember } from '@partyline/sdk';
import { useEffect } from './react.js';
import { useStore } from './use-store.js';

/** Per room: how many mounted components keep this tab entered, and the data (JSON) it entered with. */
const entered = new WeakMap<Room, { users: number; json?: string | undefined }>();

/**
 * Who is in `room` (`room.presence.members()`, updated on each `presence` event). With `data`,
 * this tab also enters the room's presence with it while the component is mounted (new data
 * updates it; the last such component to unmount leaves). Entering needs the token's `presence`
 * capability; a refusal is not reported here (call `room.presence.enter` yourself to handle it).
 *
 * @example
 * const members = usePresence<{ name: string }>(room, { name: 'Ana' });
 * members.map((m) => <Avatar key={m.sub} name={m.data?.name ?? m.sub} />);
 */
export function usePresence<Data = unknown>(room: Room, data?: Data): readonly RoomMember<Data>[] {
  const list = useStore(room, (onChange) => room.on('presence', onChange), () => room.presence.members() as RoomMember<Data>[]);
  const json = data === undefined ? undefined : JSON.stringify(data);
  useEffect(() => {
    if (json === undefined) return;
    const state = entered.get(room) ?? { users: 0 };
    entered.set(room, state);
    state.users++;
    if (state.json !== json) void room.presence.enter(data).catch(() => {});
    state.json = json;
    return () => {
      state.users--;
      // Not at once: a StrictMode unmount + remount (or new data) enters again in the same task.
      queueMicrotask(() => {
        if (state.users) return;
        state.json = undefined;
        void room.presence.leave();
      });
    };
  }, [room, json]); // `data` is read when its JSON changed
  return list;
}
