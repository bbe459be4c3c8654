import { spawn, type ChildProcess } from 'node:child_process';
import { cp, lstat, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findFreePort, waitFor } from '@partyline/test-support';
import { REPO_ROOT } from './processes.js';

/**
 * A stranger's app: the packages as npm would ship them (`npm pack` tarballs), installed into a fresh
 * directory outside the repository — no workspace links, no source condition, no repo tsconfig.
 */

export const EXAMPLE_DIR = resolve(REPO_ROOT, 'examples/react-chat');
const README = resolve(REPO_ROOT, 'README.md');
const REACT_HEADING = '## React (`@partyline/react`)';

const started = Date.now();
/** One progress line per stage, with the seconds since the run began. */
export function progress(what: string): void {
  console.log(`[consumer ${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);
}

/** Runs a command to completion and answers its stdout; a non-zero exit fails with the command's output. */
export async function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<string> {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    output += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolveExit, reject) => {
    child.once('error', reject);
    child.once('exit', resolveExit);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${options.cwd}) exited with ${code}:\n${output.slice(-8_000)}`);
  return stdout;
}

interface PackageJson {
  name: string;
  private?: boolean;
  exports?: Record<string, { default?: string }>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  overrides?: Record<string, string>;
}

async function readPackageJson(dir: string): Promise<PackageJson> {
  return JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as PackageJson;
}

/** Every package under packages/ that is not `"private": true`, i.e. what would be published. */
export async function publishablePackages(): Promise<{ name: string; dir: string }[]> {
  const found: { name: string; dir: string }[] = [];
  for (const entry of await readdir(resolve(REPO_ROOT, 'packages'), { withFileTypes: true })) {
    const dir = resolve(REPO_ROOT, 'packages', entry.name);
    if (!entry.isDirectory() || !existsSync(join(dir, 'package.json'))) continue;
    const pkg = await readPackageJson(dir);
    if (!pkg.private) found.push({ name: pkg.name, dir });
  }
  return found;
}

/** `npm pack`s the packages into `destination` (one npm run); answers package name → tarball path. */
export async function packAll(packages: { name: string; dir: string }[], destination: string): Promise<Map<string, string>> {
  for (const { name, dir } of packages) {
    // npm pack ships what is on disk: a package whose build output is missing would pack "fine" and break on import.
    const pkg = await readPackageJson(dir);
    for (const target of Object.values(pkg.exports ?? {})) {
      if (target.default && !existsSync(join(dir, target.default))) {
        throw new Error(`${name}: ${target.default} is missing — build it first (npx turbo run build --filter=${name})`);
      }
    }
  }
  const output = await run('npm', ['pack', '--json', '--pack-destination', destination, ...packages.map(({ dir }) => dir)], { cwd: REPO_ROOT });
  const packed = JSON.parse(output) as { name: string; filename: string }[];
  const tarballs = new Map(packed.map(({ name, filename }) => [name, join(destination, filename)]));
  const missing = packages.filter(({ name }) => !tarballs.has(name));
  if (missing.length > 0) throw new Error(`npm pack made no tarball for ${missing.map(({ name }) => name).join(', ')}:\n${output}`);
  return tarballs;
}

/** The version the repository's package-lock installed, so npm's cache can serve it. */
async function lockedVersions(): Promise<Map<string, string>> {
  const lock = JSON.parse(await readFile(resolve(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> };
  const versions = new Map<string, string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    const name = path.startsWith('node_modules/') ? path.slice('node_modules/'.length) : undefined;
    if (name && !name.includes('/node_modules/') && entry.version) versions.set(name, entry.version);
  }
  return versions;
}

/**
 * Copies examples/react-chat to a fresh directory under the OS temp dir and installs it with the
 * tarballs standing in for the published @partyline packages (as dependencies and as overrides, so the
 * packages' own dependencies on each other resolve to the tarballs too, never to a registry or a link).
 * Every other dependency is pinned to the repository's locked version: npm's cache serves it.
 */
export async function installExample(tarballs: Map<string, string>): Promise<string> {
  const appDir = await mkdtemp(join(tmpdir(), 'partyline-consumer-'));
  try {
    await cp(EXAMPLE_DIR, appDir, { recursive: true, filter: (source) => !/[\\/](node_modules|dist)$/.test(source) });
    const pkg = await readPackageJson(appDir);
    const locked = await lockedVersions();
    const pin = (deps: Record<string, string> = {}) =>
      Object.fromEntries(
        Object.entries(deps).map(([name, range]) => {
          if (name.startsWith('@partyline/')) {
            const tarball = tarballs.get(name);
            if (!tarball) throw new Error(`examples/react-chat depends on ${name}, which is not a publishable package under packages/`);
            return [name, `file:${tarball}`];
          }
          return [name, locked.get(name) ?? range];
        }),
      );
    pkg.dependencies = pin(pkg.dependencies);
    pkg.devDependencies = pin(pkg.devDependencies);
    pkg.overrides = Object.fromEntries([...tarballs].map(([name, tarball]) => [name, `file:${tarball}`]));
    await writeFile(join(appDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: appDir });
    // The app's own @partyline dependencies and the SDK under them: unpacked from the tarballs, not linked to the repo.
    const expected = new Set(['@partyline/sdk', ...Object.keys(pkg.dependencies).filter((name) => name.startsWith('@partyline/'))]);
    for (const name of expected) {
      const installed = join(appDir, 'node_modules', name);
      const stat = await lstat(installed).catch(() => undefined);
      if (!stat?.isDirectory() || stat.isSymbolicLink()) throw new Error(`${installed} is not a real directory (${stat ? 'a link' : 'missing'}): not installed from the tarball`);
    }
  } catch (error) {
    await removeApp(appDir);
    throw error;
  }
  return appDir;
}

export async function removeApp(appDir: string): Promise<void> {
  await rm(appDir, { recursive: true, force: true });
}

/** The README's React example: the first ```tsx block under its React heading (the docs are the test's input). */
export async function readmeReactExample(): Promise<string> {
  return reactExampleIn(await readFile(README, 'utf8'));
}

/** The React example in README text; a clear error, naming the heading, when the heading or its block is gone. */
export function reactExampleIn(readme: string): string {
  const text = `\n${readme}`;
  const start = text.indexOf(`\n${REACT_HEADING}\n`);
  if (start < 0) throw new Error(`README.md has no heading "${REACT_HEADING}": the consumer test builds the React example found under it`);
  const nextHeading = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, nextHeading < 0 ? undefined : nextHeading);
  const block = /\n```tsx\n([\s\S]*?)\n```/.exec(section);
  if (!block?.[1]) throw new Error(`README.md has no \`\`\`tsx block under "${REACT_HEADING}": the consumer test builds the React example found there`);
  return `${block[1]}\n`;
}

/**
 * The one edit the README example gets: its `const relays = [...]` line (example.com hosts) becomes an
 * import of the example app's `relays` (src/config.ts: `?relay=` in the page URL), so each browser can be
 * pointed at the test's relay, or a proxy in front of it. Everything else is compiled exactly as documented.
 */
export function pointAtTestRelays(example: string): string {
  const line = /^const relays = \[[^\]]*\];\n/gm;
  const found = example.match(line) ?? [];
  if (found.length !== 1) throw new Error(`expected exactly one \`const relays = [...];\` line in the README React example, found ${found.length}`);
  return `import { relays } from './config';\n${example.replace(line, '')}`;
}

/** A process the consumer test started; stopped by its pid. */
export interface ConsumerProcess {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

async function startProcess(name: string, child: ChildProcess, port: number, readyPath: string): Promise<ConsumerProcess> {
  let log = '';
  child.stdout?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const url = `http://127.0.0.1:${port}`;
  const handle: ConsumerProcess = {
    name,
    url,
    port,
    output: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
      return (await fetch(`${url}${readyPath}`)).ok;
    }, `${name} to answer ${readyPath}`, 20_000, 50);
  } catch (error) {
    await handle.stop();
    throw new Error(`${name} did not start: ${error instanceof Error ? error.message : String(error)}\n${log}`);
  }
  return handle;
}

/** The relay from the installed package's bin, in memory, on 127.0.0.1; with `apiKey`, its HTTP API accepts that server key. */
export async function startInstalledRelay(appDir: string, tokenSecret: string, apiKey?: string): Promise<ConsumerProcess> {
  const port = await findFreePort();
  const bin = join(appDir, 'node_modules', '.bin', 'partyline-relay');
  const args = ['--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', ...(apiKey ? ['--api-keys', apiKey] : [])];
  const child = spawn(bin, args, {
    cwd: appDir,
    env: { ...process.env, TOKEN_SECRET: tokenSecret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return startProcess('partyline-relay (installed)', child, port, '/readyz');
}

/** The example's server.js (built app + token endpoint signing with the installed @partyline/server). */
export async function startExampleServer(appDir: string, tokenSecret: string, rooms: string[]): Promise<ConsumerProcess> {
  const port = await findFreePort();
  const child = spawn(process.execPath, ['server.js'], {
    cwd: appDir,
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', TOKEN_SECRET: tokenSecret, PARTYLINE_ROOMS: rooms.join(',') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return startProcess('example server.js', child, port, '/');
}
