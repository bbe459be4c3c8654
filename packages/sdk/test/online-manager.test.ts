/**
 * The default online manager where there is no `window`: a Worker's global scope (issue 22 item 8).
 * Node stands in for the worker: no `window`, and the global scope given `addEventListener` the way
 * `self` has it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBrowserOnlineManager } from '../src/online-manager.js';

afterEach(() => {
  vi.unstubAllGlobals();
});

function workerScope(): EventTarget {
  const scope = new EventTarget();
  expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined');
  vi.stubGlobal('addEventListener', scope.addEventListener.bind(scope));
  vi.stubGlobal('removeEventListener', scope.removeEventListener.bind(scope));
  return scope;
}

describe('createBrowserOnlineManager in a worker', () => {
  it('hears offline and online on the global scope, and stops hearing them when unsubscribed', () => {
    const scope = workerScope();
    const heard: boolean[] = [];
    const stop = createBrowserOnlineManager().subscribe((online) => heard.push(online));
    scope.dispatchEvent(new Event('offline'));
    scope.dispatchEvent(new Event('online'));
    expect(heard).toEqual([false, true]);
    stop();
    scope.dispatchEvent(new Event('offline'));
    expect(heard).toEqual([false, true]);
  });

  it('reads navigator.onLine', () => {
    workerScope();
    vi.stubGlobal('navigator', { onLine: false });
    expect(createBrowserOnlineManager().isOnline()).toBe(false);
  });

  it('in plain Node (no event target at all) says online and never changes', () => {
    const manager = createBrowserOnlineManager();
    expect(manager.isOnline()).toBe(true);
    expect(() => manager.subscribe(() => {})()).not.toThrow();
  });
});
