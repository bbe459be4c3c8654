import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from './free-port.js';
import { waitFor } from './wait-for.js';

export interface NginxOptions {
  /**
   * The `http { }` block's contents (upstreams, maps, servers), given the port to listen on: its
   * servers must listen on `127.0.0.1:<port>`. A deployment's conf.d file, rendered for the test.
   */
  http: (port: number) => string;
  /** Connections per worker (clients and upstreams both count). @default 4096 */
  workerConnections?: number;
}

/** A real nginx on 127.0.0.1, owned by the test that started it. */
export interface Nginx {
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  /** nginx's error log so far (startup problems, upstream errors, limit_req / limit_conn refusals). */
  errorLog(): string;
  /** Stops it (SIGTERM to the master, which ends its workers) and deletes its directory. */
  stop(): Promise<void>;
}

const NGINX_BIN = process.env.NGINX_BIN ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');

const SHIPPED_CONF = new URL('../../../deploy/nginx.conf', import.meta.url);

/**
 * The project's own deploy/nginx.conf for a test: its two upstream relays replaced by the given
 * loopback ports and its `listen` by the test's port; `sticky` swaps `least_conn` for `ip_hash` as the
 * file's comment says (long-polling). Throws when the file no longer has the lines it replaces.
 */
export function shippedNginxConf(relayPorts: readonly [number, number], { sticky = false } = {}): (port: number) => string {
  const shipped = readFileSync(SHIPPED_CONF, 'utf8');
  return (port) => {
    const substitutions: [string, string][] = [
      ['listen 80;', `listen 127.0.0.1:${port};`],
      ['server relay-a:8080 ', `server 127.0.0.1:${relayPorts[0]} `],
      ['server relay-b:8080 ', `server 127.0.0.1:${relayPorts[1]} `],
      ...(sticky ? [['    least_conn;\n    # ip_hash;\n', '    ip_hash;\n'] as [string, string]] : []),
    ];
    let rendered = shipped;
    for (const [from, to] of substitutions) {
      if (!rendered.includes(from)) throw new Error(`deploy/nginx.conf no longer contains ${JSON.stringify(from)}: update shippedNginxConf`);
      rendered = rendered.replace(from, to);
    }
    return rendered;
  };
}

/** Fails with an actionable message when nginx is not installed. */
export function assertNginxInstalled(): void {
  const probe = spawnSync(NGINX_BIN, ['-v'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(`${NGINX_BIN} not found. Install it (Debian: apt-get install -y nginx), run scripts/ensure-system-deps.sh nginx, or set NGINX_BIN.`);
  }
}

/**
 * Starts nginx in the foreground (`daemon off`, one worker) with everything it writes — pid, logs,
 * temp files — in a temp directory, so it runs without root and leaves nothing behind. Resolves once
 * it answers HTTP on its port.
 */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  assertNginxInstalled();
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'partyline-nginx-'));
  const temp = (name: string) => {
    const path = join(dir, name);
    mkdirSync(path);
    return path;
  };
  const errorLog = join(dir, 'error.log');
  const config = [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    // Run as root, the workers would switch to `nobody`, who cannot write the temp directory.
    ...(process.getuid?.() === 0 ? ['user root;'] : []),
    `pid ${join(dir, 'nginx.pid')};`,
    `error_log ${errorLog} warn;`,
    `events { worker_connections ${options.workerConnections ?? 4096}; }`,
    'http {',
    '  access_log off;',
    `  client_body_temp_path ${temp('client-body')};`,
    `  proxy_temp_path ${temp('proxy')};`,
    `  fastcgi_temp_path ${temp('fastcgi')};`,
    `  uwsgi_temp_path ${temp('uwsgi')};`,
    `  scgi_temp_path ${temp('scgi')};`,
    options.http(port),
    '}',
    '',
  ].join('\n');
  const configFile = join(dir, 'nginx.conf');
  writeFileSync(configFile, config);
  // -e: the log used before the config is read (the default one needs root).
  const child: ChildProcess = spawn(NGINX_BIN, ['-p', dir, '-c', configFile, '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const readLog = () => (existsSync(errorLog) ? readFileSync(errorLog, 'utf8') : '');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`nginx exited at start: ${stderr}${readLog()}`);
      return answers(port);
    }, `nginx on port ${port}`, 10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    errorLog: readLog,
    stop,
  };
}

/** Whether an HTTP request to the port gets any answer (whatever its status). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = request({ host: '127.0.0.1', port, path: '/', method: 'GET', agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(true);
    });
    probe.once('timeout', () => probe.destroy());
    probe.once('error', () => resolve(false));
    probe.end();
  });
}
