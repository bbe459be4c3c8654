// Bundle size check: what an app ships for Partyline, minified and gzipped (level 9), every dependency
// bundled for the browser as an app's bundler would (react and react-dom stay the app's own).
//
//   npm run size                     the SDK alone, the React bindings alone, both together (the product budget)
//   npm run size -w @partyline/sdk   the SDK alone, against its own budget
//   node scripts/size.mjs sdk|react|all [--why]   --why adds what each bundle is made of (esbuild's metafile)
//
// Exits 1 when a line is over its budget. The one place bundle sizes are measured: package scripts call it.
import { build, analyzeMetafile } from 'esbuild';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const SDK_ENTRY = `${root}packages/sdk/src/index.ts`;
const REACT_ENTRY = `${root}packages/react/src/index.ts`;
const REACT_EXTERNAL = ['react', 'react-dom', 'react/*', 'react-dom/*'];

/** KB (1024 bytes) gzipped. */
const BUDGETS = {
  // The product requirement: an app using the React bindings ships at most this much Partyline.
  // 27 → 26.5 KB with the state machines below (issue 22 asks for 22 KB: not reached without
  // dropping behaviour or idb, which alone is about 1.1 KB).
  // 27 → 28.05 KB: errors on screen (useErrors), Standard Schema checks of bodies (invalid messages in
  // the view), a provider that re-creates its client for other relays or another user: 26.95 → 27.98.
  // 28.05 → 30 KB: edits, deletes, reactions and read state (the fold, read state, receipts, the
  // React hooks over them): 27.98 → 31.73, then valibot left the browser bundle (hand-written wire
  // checks, tested against the protocol's schemas): 29.93; `mine` derived for a caller learnt late,
  // stricter reaction keys, one listener helper in the React bindings: 30.33.
  // 30.35 → 30.75 KB: protocol 3 (own messages into the view from the publish ack, read positions
  // inferred from posts) and a cheaper enqueue path (batched tab notices, a lazy `sent`): 30.71.
  combined: 30.75,
  // 28 → 19 KB: the SDK's own WebSocket-only Socket.IO client (socket-client.ts) replaced
  // socket.io-client, whose Manager always bundles the full Engine.IO client (long-polling,
  // WebTransport, upgrades, binary packets): 27.7 → 17.1 KB with presence and history windows.
  // The budget leaves room for small features, not for a second transport stack.
  // 19 → 25 KB: every decision of the SDK became an explicit, pure state machine (connection, room
  // sync, flushing, presence: *-machine.ts, driven by machine-runner.ts from thin shells on one
  // scheduler) so the deterministic simulator drives the whole client: 17.9 → 25.3 KB. Shorter error
  // messages and folded duplicates took it back to 25.0; the rest is the machines' own logic.
  // 25.5 → 25.95 KB: Standard Schema checks of received bodies (`invalid` event and list, in view
  // order, across reloads), the `joined` event, the `user` ≠ token `sub` error: 25.48 → 25.92.
  // 25.95 → 27.4 KB: edits, deletes, reactions and read state: 25.92 → 28.81; without valibot 27.00;
  // `mine` derived for a caller learnt after the cache was folded, stricter reaction keys: 27.34.
  // 27.4 → 27.8 KB: protocol 3 and the cheaper enqueue path (see combined): 27.34 → 27.73.
  sdk: 27.8,
};

/** The bundles `target` names; the bindings only once packages/react has its entry. */
function bundlesFor(target) {
  const hasReact = existsSync(REACT_ENTRY);
  const sdk = { name: '@partyline/sdk', entryPoints: [SDK_ENTRY], budget: BUDGETS.sdk };
  // The bindings alone: the SDK is theirs to import, not theirs to weigh.
  const react = { name: '@partyline/react', entryPoints: [REACT_ENTRY], external: [...REACT_EXTERNAL, '@partyline/sdk'] };
  const combined = {
    name: '@partyline/sdk + @partyline/react',
    stdin: { contents: `export * as sdk from ${JSON.stringify(SDK_ENTRY)};\nexport * as react from ${JSON.stringify(REACT_ENTRY)};\n`, resolveDir: root, loader: 'ts' },
    external: REACT_EXTERNAL,
    budget: BUDGETS.combined,
  };
  if (target === 'sdk') return [sdk];
  if (target === 'react') return hasReact ? [react] : [];
  if (target === 'all') return hasReact ? [sdk, react, combined] : [sdk];
  throw new Error(`unknown target ${target} (sdk, react or all)`);
}

/** Bundles one entry as an app would ship it; answers minified and gzipped bytes, and the metafile. */
export async function measure({ entryPoints, stdin, external = [] }) {
  const result = await build({
    ...(stdin ? { stdin } : { entryPoints }),
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    define: { 'process.env.NODE_ENV': '"production"' },
    external,
    metafile: true,
    write: false,
    logLevel: 'warning',
  });
  const code = result.outputFiles[0].contents;
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length, metafile: result.metafile };
}

/** Minified bytes per package (node_modules/<name>, or packages/<name>), largest first. */
function byPackage(metafile) {
  const totals = new Map();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? path.match(/^(?:packages|apps)\/[^/]+/)?.[0] ?? path;
      totals.set(name, (totals.get(name) ?? 0) + bytesInOutput);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

const kb = (bytes, digits = 1) => (bytes / 1024).toFixed(digits);

async function main(args) {
  const target = args.find((arg) => !arg.startsWith('--')) ?? 'all';
  const why = args.includes('--why');
  const bundles = bundlesFor(target);
  if (target !== 'sdk' && !existsSync(REACT_ENTRY)) console.log('@partyline/react: no packages/react/src/index.ts yet (bindings and combined lines skipped)');
  let over = false;
  for (const bundle of bundles) {
    const { minified, gzipped, metafile } = await measure(bundle);
    const overBudget = bundle.budget !== undefined && gzipped / 1024 > bundle.budget;
    over ||= overBudget;
    const budget = bundle.budget === undefined ? '' : ` (budget ${bundle.budget} KB)${overBudget ? ' — OVER BUDGET' : ''}`;
    (overBudget ? console.error : console.log)(`${bundle.name}: ${kb(minified)} KB minified, ${kb(gzipped, 2)} KB gzipped${budget}`);
    if (why) {
      for (const [name, bytes] of byPackage(metafile)) console.log(`  ${name.padEnd(32)} ${kb(bytes).padStart(6)} KB minified (${((bytes / minified) * 100).toFixed(1)}%)`);
      console.log(await analyzeMetafile(metafile));
    }
  }
  if (over) process.exit(1);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
