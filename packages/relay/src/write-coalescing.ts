import { Socket } from 'node:net';
import { loopIsBusy } from './loop-load.js';

const corked = Symbol('partyline.corked');
type CoalescingSocket = Socket & { [corked]?: boolean };
/** The write every socket would use without us, looked up once rather than per write. */
const socketWrite = Socket.prototype.write;

function uncork(socket: CoalescingSocket): void {
  socket[corked] = false;
  socket.uncork();
}

function coalescedWrite(this: CoalescingSocket, ...args: Parameters<Socket['write']>): boolean {
  if (!this[corked] && !this.destroyed) {
    this[corked] = true;
    this.cork();
    if (loopIsBusy()) setImmediate(uncork, this);
    else process.nextTick(uncork, this);
  }
  return socketWrite.apply(this, args);
}

/** The first write of a turn leaves at once and the socket is corked after it, for the rest of the turn; on a busy loop, like {@link coalescedWrite}. */
function eagerCoalescedWrite(this: CoalescingSocket, ...args: Parameters<Socket['write']>): boolean {
  if (this[corked] || this.destroyed) return socketWrite.apply(this, args);
  this[corked] = true;
  if (loopIsBusy()) {
    this.cork();
    setImmediate(uncork, this);
    return socketWrite.apply(this, args);
  }
  const result = socketWrite.apply(this, args);
  this.cork();
  process.nextTick(uncork, this);
  return result;
}

/**
 * Coalesces a socket's writes within one event-loop turn into one syscall, and within one whole
 * loop iteration while the relay is busy.
 *
 * The WebSocket library writes every frame separately, so a connection that gets several frames in
 * one turn would cost a `writev` each — on small frames the syscall is most of a relay's CPU.
 * Corking on the first write of a turn and uncorking on the next tick sends them together. Under
 * load the uncork waits for the end of the loop iteration instead (`setImmediate`, after every
 * socket and Redis reply that was ready has been handled), so frames from several turns share a
 * syscall; an idle relay keeps the next-tick uncork and adds no delay. Node counts nested cork()
 * calls, so the library's own cork/uncork per frame keeps working inside ours. One shared function
 * and a flag on the socket: no closures per connection.
 */
export function coalesceWrites(socket: Socket): void {
  socket.write = coalescedWrite as Socket['write'];
}

/**
 * Like {@link coalesceWrites}, but on an idle loop the first write of a turn is not held: it adds no
 * delay, and only writes that follow it in the same turn wait for the next tick (together). For the
 * relay's Redis publishing connection: a broadcast's PUBLISH must leave before this relay spends
 * the turn writing to its own members, or every other relay's members wait for that too. On a busy
 * loop a syscall per turn costs more than that wait: the iteration's PUBLISHes leave together.
 */
export function coalesceWritesAfterFirst(socket: Socket): void {
  socket.write = eagerCoalescedWrite as Socket['write'];
}
