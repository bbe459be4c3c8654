import { useState, type FormEvent } from 'react';
import { newLocalId } from '../party/identity.js';
import type { PartyRoom } from '../party/use-party.js';
import { displayName, MAX_LABEL, PartyMessageType, type ChecklistItem } from '../state/party-state.js';
import { StatusBadge } from './status-badge.js';

function ownStatus(room: PartyRoom, item: ChecklistItem, me: string) {
  // The latest change this friend made to the item decides its marker.
  const id = item.changedBy.get(me);
  const status = id === undefined ? undefined : room.statusOf(id);
  return id !== undefined && status ? { status, id } : undefined;
}

export function Checklist({ room, me }: { room: PartyRoom; me: string }) {
  const [label, setLabel] = useState('');
  const { state } = room;
  const offline = room.connection !== 'online';
  let open = 0;
  for (const item of state.items) if (!item.claimedBy) open += 1;

  const add = (event: FormEvent) => {
    event.preventDefault();
    const text = label.trim();
    if (!text) return;
    setLabel('');
    void room.publish(PartyMessageType.ItemAdd, { itemId: newLocalId(), label: text });
  };

  return (
    <section className="card checklist" aria-labelledby="checklist-title">
      <h2 id="checklist-title">
        Who brings what <span className="count">{state.items.length === 0 ? '' : `${open} unclaimed`}</span>
      </h2>
      <ul className="items" data-testid="checklist">
        {state.items.length === 0 && <li className="empty">Nothing on the list yet — cake? balloons? a playlist?</li>}
        {state.items.map((item) => {
          const mark = ownStatus(room, item, me);
          const claimer = item.claimedBy === me ? 'You' : item.claimedBy ? displayName(state, item.claimedBy) : undefined;
          return (
            <li key={item.itemId} className={item.done ? 'item done' : 'item'} data-item={item.label}>
              <input
                type="checkbox"
                id={`done-${item.itemId}`}
                checked={item.done}
                onChange={(event) => void room.publish(PartyMessageType.ItemDone, { itemId: item.itemId, done: event.target.checked })}
              />
              <label htmlFor={`done-${item.itemId}`} className="item-label">
                {item.label}
                <span className="visually-hidden"> done</span>
              </label>
              <span className="claimer">{claimer ? `${claimer} ${claimer === 'You' ? 'bring' : 'brings'} it` : 'Unclaimed'}</span>
              {!item.claimedBy && (
                <button type="button" className="small" onClick={() => void room.publish(PartyMessageType.ItemClaim, { itemId: item.itemId })} aria-label={`I'll bring ${item.label}`}>
                  I'll bring it
                </button>
              )}
              {item.claimedBy === me && (
                <button type="button" className="small ghost" onClick={() => void room.publish(PartyMessageType.ItemUnclaim, { itemId: item.itemId })} aria-label={`Release ${item.label}`}>
                  Release
                </button>
              )}
              {mark && <StatusBadge status={mark.status} offline={offline} reason={room.failureOf(mark.id)} />}
            </li>
          );
        })}
      </ul>
      <form className="row" onSubmit={add}>
        <label className="visually-hidden" htmlFor="item-input">Item to bring</label>
        <input id="item-input" value={label} maxLength={MAX_LABEL} placeholder="Add something to bring…" onChange={(event) => setLabel(event.target.value)} />
        <button type="submit" disabled={!label.trim()}>Add</button>
      </form>
    </section>
  );
}
