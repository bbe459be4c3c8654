/**
 * The WebSocket class the relay socket uses in browsers (and workers): the platform's own.
 * Node resolves `./web-socket.node.js` instead; bundlers for browsers swap that file for this one
 * (the `browser` field of this package's package.json), so `ws` never reaches a browser bundle.
 */
export const WebSocketClass: typeof WebSocket = globalThis.WebSocket;
