import { startRedisCluster, type RedisCluster } from '@partyline/test-support';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { createRedisStore } from '../src/index.js';
import { describeRoomLogStore } from './support/room-log-store-contract.js';
import { describePresenceStore } from './support/presence-store-contract.js';
import { createRedisPresenceStore } from '../src/store/redis-presence-store.js';
import { describeScaleOut } from './support/scale-out-suite.js';

// The integration suite again, against a 3-master Redis Cluster started on loopback.
let cluster: RedisCluster;
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

async function flushCluster(): Promise<void> {
  await Promise.all(
    cluster.nodes.map(async (node) => {
      const client = new Redis(node.url);
      await client.flushall();
      client.disconnect();
    }),
  );
}

describeRoomLogStore('redis cluster', async () => {
  await flushCluster();
  return {
    create: async (options) => createRedisStore({ clusterNodes: cluster.addresses, ...options }),
    loseData: flushCluster,
    cleanup: async () => {},
  };
});

describeScaleOut('3-master Redis Cluster', async () => ({
  relayOptions: { redisCluster: cluster.addresses },
  stop: async () => {},
}));

describePresenceStore('redis cluster', async () => createRedisPresenceStore({ clusterNodes: cluster.addresses, keyPrefix: `p${Date.now()}:` }));
