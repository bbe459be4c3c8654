#!/usr/bin/env node
// The relay CLI: the built one when present (an installed package), else — in a fresh clone before
// `npm run build` — the same CLI from source through tsx, so `npx partyline-relay --help` always works.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = new URL('../dist/cli.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const source = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
  const run = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', source, ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  process.exit(run.status ?? 1);
}
