import { WebSocket as NodeWebSocket } from 'ws';

/**
 * The WebSocket class the relay socket uses in Node: `ws` (Node 20 has no global WebSocket; it is
 * what socket.io-client used there too). Browser bundles get `./web-socket.js` in its place (the
 * `browser` field of this package's package.json). `ws` implements the parts of the WHATWG
 * interface the socket uses: `binaryType`, `onmessage`/`onerror`/`onclose`, `send`, `close`.
 */
export const WebSocketClass = NodeWebSocket as unknown as typeof WebSocket;
