import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startRedis, type RedisServer } from './redis-server.js';
import { waitFor } from './wait-for.js';

export interface RedisClusterOptions {
  /** @default 3 */
  masters?: number;
  /** Replicas per master. @default 0 */
  replicasPerMaster?: number;
  /** How fast a dead master is noticed (ms); small so failover tests finish quickly. @default 1000 */
  nodeTimeoutMs?: number;
}

export interface KillMasterOptions {
  /**
   * First cut the master off its replicas and kill it this long after: the replicas are paused
   * (SIGSTOP, so they cannot reconnect) and their links dropped (`CLIENT KILL TYPE replica`); they
   * go on (SIGCONT) as the master dies. Writes in between reach the master only, so the promoted
   * replica lacks them — what `WAIT` must have kept from being acked. Keep it under the node timeout
   * (a replica paused longer is failed itself). @default 0 (links up: on loopback a replica is never
   * behind by more than what is in flight)
   */
  replicaLinkDownMs?: number;
  /** @default 30000 */
  timeoutMs?: number;
}

/** A node as a cluster node's `CLUSTER NODES` shows it. */
export interface ClusterNodeState {
  id: string;
  port: number;
  role: 'master' | 'replica';
  /** Flagged `fail` or `fail?` by the node asked. */
  failing: boolean;
  /** A replica's master (node id). */
  masterId: string | undefined;
  /** Slot ranges a master serves, inclusive. */
  slots: [number, number][];
}

/** A real Redis Cluster on loopback: `redis-server --cluster-enabled yes` nodes joined by `redis-cli --cluster create`. */
export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** `host:port` of every node, for ioredis `new Cluster(...)` or `--redis-cluster`. */
  readonly addresses: string[];
  /** The node currently master for `key`'s slot. */
  masterFor(key: string): RedisServer;
  /** Every node as a live node sees it now (`CLUSTER NODES`), without blocking the event loop. */
  view(): Promise<ClusterNodeState[]>;
  /**
   * kill -9 a master and wait until the cluster has promoted one of its replicas and serves every
   * slot again; answers the promoted node. The killed node stays down until `restartNode`.
   */
  killMaster(master: RedisServer, options?: KillMasterOptions): Promise<RedisServer>;
  /**
   * Starts a node again on its port and data directory (kill -9 first if it runs; it keeps its
   * `nodes.conf`) and waits until the cluster is whole: every node up, none flagged failing, every
   * replica's link to its master up. A master that was failed over meanwhile rejoins as a replica of
   * the node that took its slots. Answers the node's role.
   */
  restartNode(node: RedisServer, timeoutMs?: number): Promise<ClusterNodeState['role']>;
  stop(): Promise<void>;
}

const REDIS_CLI = process.env.REDIS_CLI_BIN ?? 'redis-cli';
const execRedisCli = promisify(execFile);

function redisCli(args: string[]): string {
  const result = spawnSync(REDIS_CLI, args, { encoding: 'utf8', timeout: 30_000 });
  if (result.error || result.status !== 0) {
    throw new Error(`redis-cli ${args.join(' ')} failed: ${result.error?.message ?? result.stderr ?? result.stdout}`);
  }
  return result.stdout;
}

async function redisCliAsync(port: number, args: string[]): Promise<string> {
  return (await execRedisCli(REDIS_CLI, ['-p', String(port), ...args], { encoding: 'utf8', timeout: 5_000 })).stdout;
}

/** CLUSTER NODES lines: id ip:port@bus flags master ping pong epoch link slot-ranges... */
function parseClusterNodes(text: string): ClusterNodeState[] {
  const states: ClusterNodeState[] = [];
  for (const line of text.split('\n')) {
    const [id, address, flags, master, , , , , ...ranges] = line.trim().split(' ');
    if (!id || !address || !flags || flags.includes('noaddr') || flags.includes('handshake')) continue;
    states.push({
      id,
      port: Number(address.split('@')[0]!.split(':')[1]),
      role: flags.includes('master') ? 'master' : 'replica',
      failing: flags.includes('fail'),
      masterId: master === '-' ? undefined : master,
      // Migrating/importing markers ("[slot->-id]") are not served slots.
      slots: ranges.filter((range) => !range.startsWith('[')).map((range) => {
        const [from, to = from] = range.split('-').map(Number) as [number, number?];
        return [from, to] as [number, number];
      }),
    });
  }
  return states;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const nodeTimeout = String(options.nodeTimeoutMs ?? 1000);
  const nodes = await Promise.all(
    Array.from({ length: masters * (1 + replicas) }, () =>
      startRedis({
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', nodeTimeout,
          // Replicas may take over even when they lag a little; keeps failover quick in tests.
          '--cluster-replica-validity-factor', '0',
          // A restarted node resyncs at once (the default waits 5 s for more replicas to share the transfer).
          '--repl-diskless-sync-delay', '0'],
      }),
    ),
  );
  const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
  redisCli(['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes']);
  await waitFor(() => redisCli(['-p', String(nodes[0]!.port), 'cluster', 'info']).includes('cluster_state:ok'), 'cluster_state:ok', 20_000);
  await waitFor(
    () => nodes.every((node) => redisCli(['-p', String(node.port), 'cluster', 'info']).includes('cluster_state:ok')),
    'every node to see cluster_state:ok',
    20_000,
  );
  const byPort = (port: number) => nodes.find((node) => node.port === port);
  /** Nodes `killMaster` took down and no `restartNode` brought back: not asked. */
  const down = new Set<RedisServer>();
  const running = (except?: RedisServer) => nodes.filter((node) => node !== except && !down.has(node));

  async function view(except?: RedisServer): Promise<ClusterNodeState[]> {
    let lastError: unknown = new Error('no live cluster node');
    for (const node of running(except)) {
      try {
        return parseClusterNodes(await redisCliAsync(node.port, ['cluster', 'nodes']));
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  /**
   * Every running node says cluster_state:ok, flags no node failing and agrees with the others on who
   * serves which slots (a restarted node first believes its old nodes.conf); every replica's link is up.
   */
  async function whole(except?: RedisServer): Promise<boolean> {
    const slotMaps = new Set<string>();
    for (const node of running(except)) {
      const [info, nodesText, replication] = await Promise.all([
        redisCliAsync(node.port, ['cluster', 'info']),
        redisCliAsync(node.port, ['cluster', 'nodes']),
        redisCliAsync(node.port, ['info', 'replication']),
      ]);
      if (!info.includes('cluster_state:ok')) return false;
      const states = parseClusterNodes(nodesText);
      if (states.some((state) => state.failing && byPort(state.port) !== except)) return false;
      if (replication.includes('role:slave') && !replication.includes('master_link_status:up')) return false;
      slotMaps.add(JSON.stringify(states.filter((state) => state.role === 'master' && state.slots.length > 0).map((state) => [state.port, state.slots]).sort()));
    }
    return slotMaps.size === 1;
  }

  return {
    nodes,
    addresses,
    masterFor(key) {
      const live = nodes.find((node) => {
        try {
          return redisCli(['-p', String(node.port), 'ping']).trim() === 'PONG';
        } catch {
          return false;
        }
      });
      if (!live) throw new Error('no live cluster node');
      const slot = Number(redisCli(['-p', String(live.port), 'cluster', 'keyslot', key]).trim());
      for (const state of parseClusterNodes(redisCli(['-p', String(live.port), 'cluster', 'nodes']))) {
        const node = byPort(state.port);
        if (node && state.role === 'master' && !state.failing && state.slots.some(([from, to]) => slot >= from && slot <= to)) return node;
      }
      throw new Error(`no master found for slot ${slot}`);
    },
    view: () => view(),
    async killMaster(master, { replicaLinkDownMs = 0, timeoutMs = 30_000 } = {}) {
      const states = await view();
      const before = states.find((state) => state.port === master.port);
      if (before?.role !== 'master') throw new Error(`node ${master.port} is not a master`);
      const replicas = states.filter((state) => state.masterId === before.id).map((state) => byPort(state.port)!);
      if (replicas.length === 0) throw new Error(`master ${master.port} has no replica to promote`);
      if (replicaLinkDownMs > 0) {
        for (const replica of replicas) replica.signal('SIGSTOP');
        await redisCliAsync(master.port, ['client', 'kill', 'type', 'replica']);
        await new Promise((resolve) => setTimeout(resolve, replicaLinkDownMs));
      }
      down.add(master);
      await master.kill();
      if (replicaLinkDownMs > 0) for (const replica of replicas) replica.signal('SIGCONT');
      // Promoted: one of its replicas is a master serving every slot the killed one served.
      const serves = (state: ClusterNodeState) => before.slots.every(([from, to]) => state.slots.some(([low, high]) => from >= low && to <= high));
      return waitFor(
        async () => {
          const heir = (await view(master)).find((state) => state.role === 'master' && !state.failing && replicas.some((replica) => replica.port === state.port) && serves(state));
          return heir && (await whole(master)) ? byPort(heir.port) : undefined;
        },
        `a replica of the killed master ${master.port} promoted`,
        timeoutMs,
        100,
      );
    },
    async restartNode(node, timeoutMs = 30_000) {
      await node.restart();
      down.delete(node);
      await waitFor(() => whole(), `node ${node.port} back in a whole cluster`, timeoutMs, 100);
      const own = parseClusterNodes(await redisCliAsync(node.port, ['cluster', 'nodes'])).find((state) => state.port === node.port);
      return own?.role ?? 'replica';
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}
