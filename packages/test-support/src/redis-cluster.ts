import { spawnSync } from 'node:child_process';
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

/** A real Redis Cluster on loopback: `redis-server --cluster-enabled yes` nodes joined by `redis-cli --cluster create`. */
export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** `host:port` of every node, for ioredis `new Cluster(...)` or `--redis-cluster`. */
  readonly addresses: string[];
  /** The node currently master for `key`'s slot. */
  masterFor(key: string): RedisServer;
  stop(): Promise<void>;
}

function redisCli(args: string[]): string {
  const result = spawnSync(process.env.REDIS_CLI_BIN ?? 'redis-cli', args, { encoding: 'utf8', timeout: 30_000 });
  if (result.error || result.status !== 0) {
    throw new Error(`redis-cli ${args.join(' ')} failed: ${result.error?.message ?? result.stderr ?? result.stdout}`);
  }
  return result.stdout;
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
          '--cluster-replica-validity-factor', '0'],
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
      // CLUSTER NODES lines: id ip:port@bus flags master ping pong epoch link slot-ranges...
      for (const line of redisCli(['-p', String(live.port), 'cluster', 'nodes']).split('\n')) {
        const [, address, flags, , , , , , ...ranges] = line.split(' ');
        if (!address || !flags?.includes('master') || flags.includes('fail')) continue;
        const owns = ranges.some((range) => {
          const [from, to = from] = range.split('-').map(Number);
          return from !== undefined && to !== undefined && slot >= from && slot <= to;
        });
        const port = Number(address.split('@')[0]!.split(':')[1]);
        const node = nodes.find((candidate) => candidate.port === port);
        if (owns && node) return node;
      }
      throw new Error(`no master found for slot ${slot}`);
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}
