/**
 * The baseline: plain Socket.IO + @socket.io/redis-adapter, emit with ack and broadcast, no log,
 * no dedup, no auth — what an app would write without Partyline.
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';

const { values } = parseArgs({ options: { port: { type: 'string' }, 'redis-url': { type: 'string' } } });
const httpServer = createServer();
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });
if (values['redis-url']) {
  const pub = new Redis(values['redis-url']);
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  io.adapter(createAdapter(pub, sub));
}
io.on('connection', (socket) => {
  socket.on('join', (room: string, ack: () => void) => {
    void socket.join(room);
    ack();
  });
  socket.on('publish', (message: { room: string; body: string }, ack: () => void) => {
    io.to(message.room).emit('message', message);
    ack();
  });
});
httpServer.listen(Number(values.port ?? 0), '127.0.0.1', () => process.send?.('listening'));
process.on('SIGTERM', () => process.exit(0));
