import { createServer, connect, type Server, type Socket } from 'node:net';
import { waitFor } from '@partyline/test-support';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { coalesceWrites, coalesceWritesAfterFirst } from '../src/write-coalescing.js';

describe('coalescing writes', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  });

  /** A real loopback TCP pair: the sending side with coalesced writes, and what the other side reads. */
  async function pair(coalesce: (socket: Socket) => void = coalesceWrites): Promise<{ sender: Socket; received: () => string }> {
    let data = '';
    const accepted = new Promise<Socket>((resolve) => {
      server = createServer((socket) => {
        sockets.push(socket);
        coalesce(socket);
        resolve(socket);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const client = connect((server!.address() as { port: number }).port, '127.0.0.1');
    sockets.push(client);
    client.setEncoding('utf8').on('data', (chunk: string) => (data += chunk));
    return { sender: await accepted, received: () => data };
  }

  it('sends the writes of one turn in one system call, in order', async () => {
    const { sender, received } = await pair();
    const writev = vi.spyOn(sender as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    const write = vi.spyOn(sender as unknown as { _write: (...args: unknown[]) => void }, '_write');
    const callbacks: number[] = [];
    sender.write('ack;', () => callbacks.push(1));
    sender.write('delivery-1;', () => callbacks.push(2));
    sender.write('delivery-2;', () => callbacks.push(3));
    await waitFor(() => received() === 'ack;delivery-1;delivery-2;', 'all three writes');
    expect(writev).toHaveBeenCalledTimes(1);
    expect(write).not.toHaveBeenCalled();
    await waitFor(() => callbacks.length === 3, 'write callbacks');
    expect(callbacks).toEqual([1, 2, 3]);
  });

  it('does not hold back writes of a later turn', async () => {
    const { sender, received } = await pair();
    sender.write('first;');
    await waitFor(() => received() === 'first;', 'first turn');
    sender.write('second;');
    await waitFor(() => received() === 'first;second;', 'second turn');
  });

  it('on a busy loop, sends the writes of several turns of one loop iteration in one system call', async () => {
    const { sender, received } = await pair();
    blockLoop();
    const writev = vi.spyOn(sender as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    const write = vi.spyOn(sender as unknown as { _write: (...args: unknown[]) => void }, '_write');
    // Two immediates run in one check phase, as two turns: an idle loop would send after each.
    setImmediate(() => sender.write('turn-1;'));
    setImmediate(() => sender.write('turn-2;'));
    await waitFor(() => received() === 'turn-1;turn-2;', 'both turns');
    expect(writev).toHaveBeenCalledTimes(1);
    expect(write).not.toHaveBeenCalled();
  });

  it('on an idle loop, sends each turn as soon as it ends', async () => {
    const { sender, received } = await pair();
    await new Promise((resolve) => setTimeout(resolve, 150)); // a quiet sample: the loop is idle
    const write = vi.spyOn(sender as unknown as { _write: (...args: unknown[]) => void }, '_write');
    setImmediate(() => sender.write('turn-1;'));
    setImmediate(() => sender.write('turn-2;'));
    await waitFor(() => received() === 'turn-1;turn-2;', 'both turns');
    expect(write).toHaveBeenCalledTimes(2);
  });

  it('after the first write: that one leaves at once, the rest of the turn in one system call', async () => {
    const { sender, received } = await pair(coalesceWritesAfterFirst);
    const writev = vi.spyOn(sender as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    const write = vi.spyOn(sender as unknown as { _write: (...args: unknown[]) => void }, '_write');
    sender.write('publish-1;');
    expect(write).toHaveBeenCalledTimes(1); // handed to the socket before write() returned, not on the next tick
    sender.write('publish-2;');
    sender.write('publish-3;');
    expect(writev).not.toHaveBeenCalled();
    await waitFor(() => received() === 'publish-1;publish-2;publish-3;', 'all three writes');
    expect(writev).toHaveBeenCalledTimes(1);
    expect(write).toHaveBeenCalledTimes(1);
    // The next turn starts again with a write that leaves at once.
    sender.write('publish-4;');
    expect(write).toHaveBeenCalledTimes(2);
    await waitFor(() => received().endsWith('publish-4;'), 'the next turn');
  });

  it('after the first write, on a busy loop: the first write waits for the iteration too, all in one system call', async () => {
    const { sender, received } = await pair(coalesceWritesAfterFirst);
    blockLoop();
    const writev = vi.spyOn(sender as unknown as { _writev: (...args: unknown[]) => void }, '_writev');
    const write = vi.spyOn(sender as unknown as { _write: (...args: unknown[]) => void }, '_write');
    setImmediate(() => sender.write('publish-1;'));
    setImmediate(() => {
      expect(write).not.toHaveBeenCalled();
      sender.write('publish-2;');
    });
    await waitFor(() => received() === 'publish-1;publish-2;', 'both writes');
    expect(writev).toHaveBeenCalledTimes(1);
    expect(write).not.toHaveBeenCalled();
  });
});

/** Runs callbacks for longer than a load sample (100 ms), so the loop counts as busy. */
function blockLoop(): void {
  const until = performance.now() + 250;
  while (performance.now() < until);
}
