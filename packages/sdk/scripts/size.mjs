// Prints the minified + gzipped size of the SDK bundled with all its dependencies, and fails above the budget.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

// 25 → 26 KB with per-tab views and positioned recovery; → 28 KB with presence and history windows.
const BUDGET_KB = 28;
const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const result = await build({
  entryPoints: [entry],
  bundle: true,
  minify: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  conditions: ['source'],
  write: false,
  logLevel: 'warning',
});
const code = result.outputFiles[0].contents;
const gzipKb = gzipSync(code, { level: 9 }).length / 1024;
const line = `@partyline/sdk: ${(code.length / 1024).toFixed(1)} KB minified, ${gzipKb.toFixed(2)} KB gzipped (budget ${BUDGET_KB} KB)`;
if (gzipKb > BUDGET_KB) {
  console.error(`${line} — OVER BUDGET`);
  process.exit(1);
}
console.log(line);
