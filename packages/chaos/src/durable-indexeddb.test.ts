import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@partyline/test-support';
import { afterAll, describe, expect, it } from 'vitest';
import { openDurableIndexedDB } from './durable-indexeddb.js';

const WRITER = fileURLToPath(new URL('./fixtures/durable-writer.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'chaos-durable-idb-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const done = (request: IDBRequest) => new Promise<unknown>((resolve, reject) => ((request.onsuccess = () => resolve(request.result)), (request.onerror = () => reject(request.error))));

describe('durable IndexedDB for Node chaos clients', () => {
  it('keeps every transaction that completed before a kill -9, across kills', { timeout: 60_000 }, async () => {
    const file = join(dir, 'profile.journal');
    let committed = 0;
    for (let round = 0; round < 3; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file], { stdio: ['ignore', 'pipe', 'inherit'] });
      if (round === 0) {
        // A reader slower than the writer, as on a busy machine: not read until the writer waits for
        // its reports to go out (the journal stops growing) — or has run far ahead of them (2 MB).
        child.stdout.pause();
        let size = -1;
        await waitFor(() => {
          const now = existsSync(file) ? statSync(file).size : 0;
          const still = now > 0 && now === size;
          size = now;
          return still || now > 2_000_000;
        }, 'the writer to wait for its reports', 30_000, 200);
      }
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const lines = output.trim().split('\n');
        const last = Number(lines.at(-1));
        if (last > committed + 200) child.kill('SIGKILL');
      });
      child.stdout.resume();
      // 'close', not 'exit': what the writer reported before the kill may still be in the pipe at exit.
      await new Promise((resolve) => child.once('close', resolve));
      expect(child.signalCode).toBe('SIGKILL');
      const reported = Math.max(...output.trim().split('\n').map(Number));
      expect(reported).toBeGreaterThan(committed);

      const factory = await openDurableIndexedDB(file);
      const open = factory.open('profile', 1);
      const db = (await done(open)) as IDBDatabase;
      const tx = db.transaction(['inbox', 'outbox'], 'readonly');
      const seqs = ((await done(tx.objectStore('inbox').getAllKeys())) as [string, number][]).map(([, seq]) => seq);
      const outbox = (await done(tx.objectStore('outbox').getAll())) as { id: string; n: number }[];
      db.close();
      // Everything reported committed is there; at most the one transaction whose report the kill cut off is more.
      expect(seqs.length).toBeGreaterThanOrEqual(reported);
      expect(seqs.length).toBeLessThanOrEqual(reported + 1);
      expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
      expect(outbox).toEqual([{ id: `o${seqs.length}`, n: seqs.length }]);
      committed = seqs.length;
    }
  });
});
