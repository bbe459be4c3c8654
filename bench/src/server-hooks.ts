/**
 * Preloaded into server processes by the bench (`--import`), never part of the relay: collects
 * garbage when the bench asks, so memory per connection is measured without handshake garbage.
 */
process.on('message', (message) => {
  if (message === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send?.('gc:done');
  }
});
