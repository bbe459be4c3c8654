import { createClient, type ClientOptions, type ConnectionState, type PartylineClient, type PartylineError } from '@partyline/sdk';
import { createContext, createElement, useContext, useEffect, useRef, useState } from './react.js';
import type { ReactNode } from 'react';
import { useStore } from './use-store.js';

/** @internal the client of the nearest {@link PartylineProvider} */
export const PartylineContext = /* @__PURE__ */ createContext<PartylineClient | undefined>(undefined);

/**
 * Either an existing `client` (the provider never closes it), or `options` for a client the
 * provider creates on mount and closes on unmount. Other `relays` or another `user` (compared by
 * value) close it and create a new one; the other options are read when the client is created:
 * a change of them (by value; `token` excepted, often an inline function) is ignored with a one-time
 * console warning — remount (a new `key`) to apply them.
 */
export type PartylineProviderProps = { children?: ReactNode } & ({ client: PartylineClient; options?: never } | { options: ClientOptions; client?: never });

/**
 * Makes a Partyline client available to the hooks below it. With `options` the provider owns the
 * client: it creates it after mounting (children render once it exists) and closes it on unmount —
 * a StrictMode unmount + remount keeps the same client.
 *
 * @example
 * <PartylineProvider options={{ relays: ['https://relay.example.com'], token: fetchToken }}>
 *   <Party />
 * </PartylineProvider>
 */
export function PartylineProvider(props: PartylineProviderProps): ReactNode {
  const { client: external, options } = props;
  const [owned, setOwned] = useState<PartylineClient>();
  const holder = useRef<{ client?: PartylineClient | undefined; key?: string | undefined; closing?: ReturnType<typeof setTimeout> }>({});
  const key = identityKey(options);
  useEffect(() => {
    if (external || !options) return;
    // A StrictMode unmount + remount finds the client still there: keep it — unless it is for other relays or another user.
    const held = holder.current;
    clearTimeout(held.closing);
    if (held.key !== key) void held.client?.close(), (held.client = undefined);
    held.key = key;
    setOwned((held.client ??= createClient(options)));
    return () => {
      held.closing = setTimeout(() => {
        void held.client?.close();
        held.client = undefined;
      });
    };
  }, [external, key]); // the other options are read when the client is created
  const seen = useRef(options);
  useEffect(() => {
    const before = seen.current;
    seen.current = options;
    if (!before || !options || identityKey(before) !== key || warned) return;
    const ignored = Object.keys({ ...before, ...options }).filter((name) => name !== 'token' && name !== 'relays' && before[name as keyof ClientOptions] !== options[name as keyof ClientOptions]);
    if (ignored.length === 0) return;
    warned = true;
    console.warn(`PartylineProvider: changed options ${ignored.join(', ')} are ignored (only relays and user re-create the client; remount with a new key)`);
  }, [options]);
  const client = external ?? owned;
  return client ? createElement(PartylineContext.Provider, { value: client }, props.children) : null;
}

let warned = false;

/** What makes a client another one: its relays and its user. */
function identityKey(options: ClientOptions | undefined): string | undefined {
  return options && JSON.stringify([options.relays, options.user]);
}

/**
 * The client of the nearest {@link PartylineProvider}.
 * @example
 * const client = useClient();
 * client.flush();
 */
export function useClient(): PartylineClient {
  const client = useContext(PartylineContext);
  if (!client) throw new Error('useClient: no PartylineProvider');
  return client;
}

/**
 * The client's connection state — `connecting`, `online` or `offline` — re-rendering on changes.
 * @example
 * const state = useConnectionState();
 * return state === 'online' ? null : <Banner>offline: messages wait in the outbox</Banner>;
 */
export function useConnectionState(): ConnectionState {
  const client = useClient();
  return useStore(client, (onChange) => client.on('state', onChange), () => client.state);
}

/**
 * While the client is `connecting`: why it is not online yet — a refused token (`unauthorized`,
 * `token_expired`: the token function answered something the relays do not accept), an unreachable
 * relay (`connect_failed`), a lost connection (`disconnected`); undefined otherwise. Re-renders on changes.
 * @example
 * const state = useConnectionState();
 * const reason = useConnectionReason();
 * if (state === 'connecting' && reason?.kind === 'unauthorized') return <Banner>Please sign in again</Banner>;
 */
export function useConnectionReason(): PartylineError | undefined {
  const client = useClient();
  return useStore(client, (onChange) => client.on('state', onChange), () => client.reason);
}
