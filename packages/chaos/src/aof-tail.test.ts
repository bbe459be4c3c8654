import { describe, expect, it } from 'vitest';
import { lostAppends } from './aof-tail.js';

const resp = (...args: string[]) => `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
const xadd = (room: string, seq: number, id: string) => resp('XADD', `pl:{${room}}:log`, `${seq}-0`, 'i', id, 't', 'chat', 'b', '{}');
const script = (room: string, seq: number, id: string) => resp('MULTI') + xadd(room, seq, id) + resp('HSET', `pl:{${room}}:meta`, 'seq', String(seq)) + resp('EXEC');

describe('lostAppends', () => {
  const head = resp('SELECT', '0') + script('r', 1, 'a') + script('r', 2, 'b');
  const tail = script('r', 3, 'c') + xadd('q', 7, 'd');
  const aof = Buffer.from(head + tail);

  it('finds the appends after the cut, and none before it', () => {
    expect(lostAppends(aof, Buffer.byteLength(head))).toEqual([{ room: 'r', seq: 3, id: 'c' }, { room: 'q', seq: 7, id: 'd' }]);
    expect(lostAppends(aof, aof.length)).toEqual([]);
  });

  it('counts a transaction the cut splits as lost (Redis reverts it), even where its XADD is before the cut', () => {
    const cut = Buffer.byteLength(head + resp('MULTI') + xadd('r', 3, 'c'));
    expect(lostAppends(aof, cut)).toEqual([{ room: 'r', seq: 3, id: 'c' }, { room: 'q', seq: 7, id: 'd' }]);
  });

  it('ignores other keys and a torn last command', () => {
    const torn = Buffer.from(head + resp('XADD', 'other:stream', '9-0', 'i', 'x') + xadd('r', 3, 'c').slice(0, 20));
    expect(lostAppends(torn, Buffer.byteLength(head))).toEqual([]);
  });
});
