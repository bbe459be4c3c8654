// A dedicated Worker running an SDK client with the default online manager (no `window` here):
// it reports every state to the page, and dispatches on its global scope the `offline`/`online`
// events the page tells it, the way the browser does on a network change.
import { createClient } from '../../src/index.js';

const scope = self as unknown as { postMessage(message: unknown): void; addEventListener(type: string, listener: (event: MessageEvent) => void): void; dispatchEvent(event: Event): boolean };
const params = new URLSearchParams(location.search);
const client = createClient({ relays: [params.get('relay')!], token: params.get('token')!, retryDelay: (attempt) => Math.min(100 * attempt, 1000) });
client.on('state', ({ state }) => scope.postMessage(state));
scope.addEventListener('message', (event) => scope.dispatchEvent(new Event(String(event.data))));
scope.postMessage(client.state);
