import { runInNewContext } from 'node:vm';
import { builtinEnvironments, type Environment } from 'vitest/runtime';

/**
 * Globals that stay Node's: the ECMAScript built-ins (jsdom's window brings its own realm's
 * `Uint8Array`, `Object`, … — Node's crypto then refuses keys made by Node's `TextEncoder`), and
 * the Node APIs the relay and the SDK use.
 */
const NODE_GLOBALS = [
  ...(Object.getOwnPropertyNames(runInNewContext('globalThis')) as string[]),
  ...['TextEncoder', 'TextDecoder', 'crypto', 'Crypto', 'performance', 'Performance', 'console', 'atob', 'btoa'],
  ...['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask'],
];

/**
 * jsdom's DOM (document, window, elements, events) for React and Testing Library, with modules
 * resolved and transformed for Node (`ssr`): the in-process relay needs Node's packages and module
 * URLs, and the SDK talks to it through the same WebSocket class as in its own Node tests.
 */
const environment: Environment = {
  name: 'jsdom-node',
  viteEnvironment: 'ssr',
  async setup(global, options) {
    const kept = new Map(NODE_GLOBALS.map((key) => [key, Object.getOwnPropertyDescriptor(global, key)]));
    const jsdom = await builtinEnvironments.jsdom.setup(global, options);
    for (const [key, descriptor] of kept) if (descriptor) Object.defineProperty(global, key, descriptor);
    return jsdom;
  },
};

export default environment;
