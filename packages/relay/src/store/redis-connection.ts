import type { Socket } from 'node:net';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { coalesceWrites } from '../write-coalescing.js';

/** Where a relay's Redis lives: one standalone server, or a Redis Cluster given by some of its nodes. */
export type RedisTarget = { url: string } | { clusterNodes: string[] };

/** Connection settings shared by every Redis client of a relay: fail fast while Redis is away, reconnect forever. */
export function relayRedisOptions(overrides: RedisOptions = {}): RedisOptions {
  return {
    // Fail at once while disconnected instead of queueing: the client retries and dedup makes that safe.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 6), 2_000),
    // Commands issued in the same event-loop tick leave in one write: under load, one syscall for
    // many publishes instead of one each.
    enableAutoPipelining: true,
    ...overrides,
  };
}

/** Opens a client for the target with the relay's connection settings. */
export function connectRedis(target: RedisTarget, overrides: RedisOptions = {}, clusterOverrides: ClusterOptions = {}): Redis | Cluster {
  const options = relayRedisOptions(overrides);
  if ('url' in target) return new Redis(target.url, options);
  const nodes = target.clusterNodes.map((address) => {
    const [host = '127.0.0.1', port = '6379'] = address.replace(/^redis:\/\//, '').split(':');
    return { host, port: Number(port) };
  });
  return new Cluster(nodes, {
    redisOptions: options,
    enableOfflineQueue: options.enableOfflineQueue ?? false,
    enableAutoPipelining: options.enableAutoPipelining ?? true,
    clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 2_000),
    // After a failover, MOVED/TRYAGAIN redirections are retried a few times before failing with `unavailable`.
    retryDelayOnFailover: 200,
    retryDelayOnTryAgain: 200,
    retryDelayOnClusterDown: 200,
    ...clusterOverrides,
  });
}

/**
 * Opens a client whose commands of one turn (of one loop iteration, when the relay is busy) share a
 * write. On standalone Redis each command goes into the socket as it is made and the socket is corked
 * for the turn: no auto-pipeline object per turn, and commands of several turns share a syscall under
 * load. A cluster client auto-pipelines per node instead.
 */
export function connectTurnCoalesced(target: RedisTarget, overrides: RedisOptions = {}): Redis | Cluster {
  if (!('url' in target)) return connectRedis(target, overrides);
  const client = connectRedis(target, { ...overrides, enableAutoPipelining: false }) as Redis;
  client.on('connect', () => coalesceWrites(client.stream as Socket));
  return client;
}
