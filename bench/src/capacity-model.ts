/**
 * The capacity model: how many relay processes and Redis Cluster shards a target load needs, from
 * per-unit costs one capacity run measured (see capacity-run.ts). Every cost is linear in its
 * driver — connections for memory and heartbeats, delivered messages for relay CPU, published
 * messages for Redis CPU — so the answer is arithmetic on the measured slopes.
 */

/** Per-unit costs measured on the relays and on Redis (the model's only inputs besides the target). */
export interface UnitCosts {
  /** RSS of a relay with no connections (after a full GC). */
  relayBaseRssBytes: number;
  /** RSS growth per idle connection (after a full GC). */
  relayRssBytesPerConnection: number;
  /** CPU of one relay with no connections, µs per second (timers, Redis keep-alives). */
  relayCpuMicrosPerSecondEmpty: number;
  /** CPU of one shard with no connections, µs per second (cron, cluster gossip). */
  redisCpuMicrosPerSecondEmpty: number;
  /** Relay CPU an idle connection costs per second: heartbeats and timers. */
  relayCpuMicrosPerConnectionSecond: number;
  /** Relay CPU per delivered message, the idle upkeep of all connections taken out. */
  relayCpuMicrosPerDelivered: number;
  /** Redis CPU per published message, all shards added up. */
  redisCpuMicrosPerPublished: number;
  /** Redis CPU an idle connection costs per second, all shards added up. */
  redisCpuMicrosPerConnectionSecond: number;
  /** Delivered messages per published one (the run's fan-out). */
  deliveriesPerPublish: number;
  /** How many relays a room's members were spread over in the run (each gets the room's pub/sub message). */
  relaysPerRoom: number;
}

export interface CapacityTarget {
  connections: number;
  rooms: number;
  deliveredPerSecond: number;
  /** Members per busy room; the measured fan-out is taken to hold for rooms of this size. */
  roomSize: number;
}

export interface CapacityAssumptions {
  /** Share of a core a relay or Redis shard may use at the target load (the rest absorbs bursts and reconnect storms). */
  cpuHeadroom: number;
  /** RSS one relay process may reach (Node's default old-space limit is about 4 GiB on 64-bit machines). */
  relayMemoryBytes: number;
}

export const TARGET: CapacityTarget = { connections: 1_000_000, rooms: 100_000, deliveredPerSecond: 500_000, roomSize: 4 };
export const ASSUMPTIONS: CapacityAssumptions = { cpuHeadroom: 0.6, relayMemoryBytes: 2 * 2 ** 30 };

export interface CapacityPlan {
  publishedPerSecond: number;
  /** Published messages per busy room per second. */
  publishedPerRoomSecond: number;
  /** Connections that sit in the target's busy rooms (rooms × room size); the rest are idle. */
  connectionsInBusyRooms: number;
  /** Relay cores busy at the target: connection upkeep + deliveries, without the relays' own empty CPU (one core per relay: Node runs JS on one thread). */
  relayCores: number;
  relaysForCpu: number;
  relaysForMemory: number;
  relays: number;
  connectionsPerRelay: number;
  /**
   * How much more pub/sub fan-out to relays a message costs at the target than in the run: a room of
   * `roomSize` members placed at random over `relays` relays reaches N·(1 − (1 − 1/N)^size) of them.
   * It scales the whole per-message Redis cost (conservative: the durable append does not grow with it).
   */
  pubSubSpread: number;
  /** Redis cores busy at the target, without the shards' own empty CPU. */
  redisCores: number;
  shards: number;
  /** The lower bound: shards if a room reaching more relays cost Redis nothing more (pubSubSpread taken as 1). */
  shardsWithoutSpread: number;
}

/** The relays and shards `target` needs at `costs`, within `assumptions`. */
export function planCapacity(costs: UnitCosts, target: CapacityTarget = TARGET, assumptions: CapacityAssumptions = ASSUMPTIONS): CapacityPlan {
  const publishedPerSecond = target.deliveredPerSecond / costs.deliveriesPerPublish;
  const relayCores = (target.connections * costs.relayCpuMicrosPerConnectionSecond + target.deliveredPerSecond * costs.relayCpuMicrosPerDelivered) / 1e6;
  // What a relay (or shard) burns with no connections comes off the share of its core it may use.
  const relaysForCpu = Math.ceil(relayCores / (assumptions.cpuHeadroom - costs.relayCpuMicrosPerSecondEmpty / 1e6));
  const connectionsPerRelayByMemory = (assumptions.relayMemoryBytes - costs.relayBaseRssBytes) / costs.relayRssBytesPerConnection;
  const relaysForMemory = Math.ceil(target.connections / connectionsPerRelayByMemory);
  const relays = Math.max(relaysForCpu, relaysForMemory, 1);
  const relaysReached = relays * (1 - (1 - 1 / relays) ** target.roomSize);
  const pubSubSpread = Math.max(1, relaysReached / costs.relaysPerRoom);
  const redisCoresAt = (spread: number) =>
    (publishedPerSecond * costs.redisCpuMicrosPerPublished * spread + target.connections * costs.redisCpuMicrosPerConnectionSecond) / 1e6;
  const shardsFor = (cores: number) => Math.max(1, Math.ceil(cores / (assumptions.cpuHeadroom - costs.redisCpuMicrosPerSecondEmpty / 1e6)));
  const redisCores = redisCoresAt(pubSubSpread);
  return {
    publishedPerSecond,
    publishedPerRoomSecond: publishedPerSecond / target.rooms,
    connectionsInBusyRooms: Math.min(target.connections, target.rooms * target.roomSize),
    relayCores,
    relaysForCpu,
    relaysForMemory,
    relays,
    connectionsPerRelay: target.connections / relays,
    pubSubSpread,
    redisCores,
    shards: shardsFor(redisCores),
    shardsWithoutSpread: shardsFor(redisCoresAt(1)),
  };
}
