import { PartylineErrorKind, type ClientInspection, type OutboxEntry, type PartylineClient, type PartylineError } from '@partyline/sdk';
import { useContext, useEffect, useState, type CSSProperties, type ReactNode } from 'react';
import { PartylineContext } from './provider.js';

export interface PartylineDevtoolsProps {
  /** The client to look into. @default the nearest `PartylineProvider`'s */
  client?: PartylineClient;
  /** Show the panel from the start (otherwise only its button). @default false */
  defaultOpen?: boolean;
  /** How often the open panel reads `client.inspect()` (it also reads on every state and status change), ms. @default 1000 */
  intervalMs?: number;
}

/**
 * A small overlay for "my message did not arrive": the connection (why it is not online, e.g. a
 * refused token, and when it tries next) and the relay in use, each open
 * room's epoch, last seq and known gaps, the outbox (attempts, when each entry is tried next and
 * why it waits), and which tab flushes it. Reads `client.inspect()` while open; changes nothing
 * but a "Flush now" button. Opt-in: import it from `@partyline/react/devtools`.
 *
 * @example
 * import { PartylineDevtools } from '@partyline/react/devtools';
 * <PartylineProvider options={options}><App />{import.meta.env.DEV && <PartylineDevtools />}</PartylineProvider>
 */
export function PartylineDevtools({ client: given, defaultOpen = false, intervalMs = 1000 }: PartylineDevtoolsProps): ReactNode {
  const provided = useContext(PartylineContext);
  const client = given ?? provided;
  const [open, setOpen] = useState(defaultOpen);
  const [info, setInfo] = useState<ClientInspection>();
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    if (!open || !client) return;
    let live = true;
    const read = () => {
      client.inspect().then(
        (next) => {
          if (!live) return;
          setInfo(next);
          setProblem(undefined);
        },
        (error: unknown) => {
          if (live) setProblem(error instanceof Error ? error.message : String(error));
        },
      );
    };
    read();
    const timer = setInterval(read, intervalMs);
    const stops = [client.on('state', read), client.on('status', read)];
    return () => {
      live = false;
      clearInterval(timer);
      for (const stop of stops) stop();
    };
  }, [client, open, intervalMs]);

  const state = info?.state ?? client?.state ?? 'offline';
  return (
    <div style={styles.root} data-partyline-devtools="">
      {open && (
        <section style={styles.panel} aria-label="Partyline devtools">
          {!client ? <p>No Partyline client: pass one, or render inside a PartylineProvider.</p> : problem ? <p>{problem}</p> : info ? <Inspection info={info} client={client} /> : <p>Reading…</p>}
        </section>
      )}
      <button type="button" style={styles.button} aria-expanded={open} onClick={() => setOpen(!open)}>
        <span style={{ color: STATE_COLORS[state] }}>●</span> Partyline
      </button>
    </div>
  );
}

function Inspection({ info, client }: { info: ClientInspection; client: PartylineClient }): ReactNode {
  const now = Date.now();
  const { flush } = info;
  return (
    <>
      <h2 style={styles.heading}>Connection</h2>
      <dl style={styles.facts}>
        <dt>state</dt>
        <dd style={{ color: STATE_COLORS[info.state] }}>{info.state}</dd>
        {info.reason && (
          <>
            <dt>why</dt>
            <dd>{why(info.reason)}</dd>
          </>
        )}
        {info.retryAt !== undefined && (
          <>
            <dt>next attempt</dt>
            <dd>{relative(info.retryAt, now)}</dd>
          </>
        )}
        <dt>relay</dt>
        <dd>{info.relay ?? `not connected (relays: ${info.relays.join(', ')})`}</dd>
        <dt>user</dt>
        <dd>{info.user ?? 'not known yet'}</dd>
        <dt>flush</dt>
        <dd>
          {flush.leading.length > 0 ? `this tab is sending ${flush.leading.join(', ')}` : 'this tab is not sending'}
          {flush.otherTabs.length > 0 && `; another tab is sending ${flush.otherTabs.join(', ')}`}
          {flush.shared ? '' : ' (no tab coordination: this client sends alone)'}
          {flush.retryAt !== undefined && `; next try ${relative(flush.retryAt, now)} after ${flush.failures} failed`}{' '}
          <button type="button" style={styles.small} onClick={() => client.flush()} disabled={info.state !== 'online'}>
            Flush now
          </button>
        </dd>
      </dl>

      <h2 style={styles.heading}>Rooms ({info.rooms.length})</h2>
      {info.rooms.length === 0 ? (
        <p>No room open in this tab.</p>
      ) : (
        <table style={styles.table} aria-label="rooms">
          <thead>
            <tr>
              <th style={styles.cell}>room</th>
              <th style={styles.cell}>epoch</th>
              <th style={styles.cell}>last seq</th>
              <th style={styles.cell}>gaps</th>
            </tr>
          </thead>
          <tbody>
            {info.rooms.map((room) => (
              <tr key={room.name}>
                <td style={styles.cell}>{room.name}</td>
                <td style={styles.cell} title={room.epoch}>
                  {room.epoch === undefined ? 'not joined yet' : short(room.epoch)}
                </td>
                <td style={styles.cell}>{room.lastSeq}</td>
                <td style={styles.cell}>{gaps(room.lastSeq, room.waiting) || 'none'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}

      <h2 style={styles.heading}>Outbox ({info.outbox.length})</h2>
      {info.outbox.length === 0 ? (
        <p>Empty: every message left for its room.</p>
      ) : (
        <table style={styles.table} aria-label="outbox">
          <thead>
            <tr>
              <th style={styles.cell}>id</th>
              <th style={styles.cell}>room</th>
              <th style={styles.cell}>type</th>
              <th style={styles.cell}>attempts</th>
              <th style={styles.cell}>next try</th>
              <th style={styles.cell}>expires</th>
            </tr>
          </thead>
          <tbody>
            {info.outbox.map((entry) => (
              <tr key={entry.id}>
                <td style={styles.cell} title={`${entry.id}\n${entry.body}`}>
                  …{entry.id.slice(-8)}
                </td>
                <td style={styles.cell}>{entry.room}</td>
                <td style={styles.cell}>{entry.type}</td>
                <td style={styles.cell}>{entry.attempts}</td>
                <td style={styles.cell}>{nextTry(entry, info, now)}</td>
                <td style={styles.cell}>{relative(entry.createdAt + info.retentionMs, now)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

/** When, and why then, this tab sends an outbox entry. */
function nextTry(entry: OutboxEntry, info: ClientInspection, now: number): string {
  if (entry.sender !== undefined && info.user !== undefined && entry.sender !== info.user) return `waits for its sender (${entry.sender})`;
  if (!info.rooms.some((room) => room.name === entry.room)) return 'waits: room not open in this tab';
  if (info.state !== 'online') return `when online (${info.state})`;
  if (info.flush.leading.includes(entry.room)) return 'sending now';
  if (info.flush.otherTabs.includes(entry.room)) return 'another tab is sending it';
  if (info.flush.retryAt !== undefined) return relative(info.flush.retryAt, now);
  return 'now';
}

/** Why the client is not online, in words: a refused token says so first. */
function why(reason: PartylineError): string {
  const refused = reason.kind === PartylineErrorKind.Unauthorized || reason.kind === PartylineErrorKind.TokenExpired;
  return refused ? `token refused: ${reason.message}` : `${reason.kind}: ${reason.message}`;
}

/** The missing ranges between the last seq handed to the app and the live messages waiting beyond them: `6–7, 10`. */
function gaps(lastSeq: number, waiting: readonly number[]): string {
  const ranges: string[] = [];
  let next = lastSeq + 1;
  for (const seq of waiting) {
    if (seq > next) ranges.push(seq - 1 === next ? `${next}` : `${next}–${seq - 1}`);
    next = seq + 1;
  }
  return ranges.join(', ');
}

function relative(at: number, now: number): string {
  const seconds = Math.round((at - now) / 1000);
  if (seconds <= 0) return 'now';
  if (seconds < 90) return `in ${seconds} s`;
  if (seconds < 5400) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${Math.round(seconds / 86_400)} d`;
}

const short = (text: string) => (text.length > 10 ? `${text.slice(0, 8)}…` : text);

const STATE_COLORS: Record<string, string> = { online: '#3fb950', connecting: '#d29922', offline: '#f85149' };

const styles = {
  root: { position: 'fixed', right: 12, bottom: 12, zIndex: 2147483647, font: '12px/1.4 ui-monospace, SFMono-Regular, Menlo, monospace', color: '#e6edf3' },
  panel: { width: 'min(560px, calc(100vw - 24px))', maxHeight: '60vh', overflow: 'auto', marginBottom: 8, padding: '8px 12px', background: '#0d1117ee', border: '1px solid #30363d', borderRadius: 8, boxShadow: '0 8px 24px #0008' },
  button: { font: 'inherit', color: 'inherit', background: '#161b22', border: '1px solid #30363d', borderRadius: 16, padding: '4px 10px', cursor: 'pointer', float: 'right' },
  small: { font: 'inherit', color: 'inherit', background: '#21262d', border: '1px solid #30363d', borderRadius: 4, padding: '0 6px', cursor: 'pointer' },
  heading: { font: 'inherit', fontWeight: 'bold', margin: '8px 0 4px', color: '#8b949e' },
  facts: { display: 'grid', gridTemplateColumns: 'max-content 1fr', gap: '2px 12px', margin: 0 },
  table: { borderCollapse: 'collapse', width: '100%' },
  cell: { textAlign: 'left', padding: '1px 8px 1px 0', borderBottom: '1px solid #21262d', verticalAlign: 'top', whiteSpace: 'nowrap' },
} satisfies Record<string, CSSProperties>;
