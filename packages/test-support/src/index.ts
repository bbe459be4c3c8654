export { findFreePort } from './free-port.js';
export { assertRedisInstalled, pingRedis, startRedis } from './redis-server.js';
export type { RedisKillOptions, RedisServer, RedisServerOptions } from './redis-server.js';
export { waitFor } from './wait-for.js';
export { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumLaunchOptions, reloadOffline } from './chromium.js';
export { startRedisCluster } from './redis-cluster.js';
export type { RedisCluster, RedisClusterOptions } from './redis-cluster.js';
export { startFaultProxy } from './fault-proxy.js';
export type { FaultProxy } from './fault-proxy.js';
