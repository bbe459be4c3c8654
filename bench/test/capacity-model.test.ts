import { describe, expect, it } from 'vitest';
import { planCapacity, type CapacityAssumptions, type UnitCosts } from '../src/capacity-model.js';

/** Round costs, so every figure below can be checked by hand. */
const costs: UnitCosts = {
  relayBaseRssBytes: 100 * 2 ** 20,
  relayRssBytesPerConnection: 10_000,
  relayCpuMicrosPerSecondEmpty: 0,
  redisCpuMicrosPerSecondEmpty: 0,
  relayCpuMicrosPerConnectionSecond: 10,
  relayCpuMicrosPerDelivered: 50,
  redisCpuMicrosPerPublished: 60,
  redisCpuMicrosPerConnectionSecond: 0,
  deliveriesPerPublish: 4,
  relaysPerRoom: 3,
};
const assumptions: CapacityAssumptions = { cpuHeadroom: 0.5, relayMemoryBytes: 1100 * 2 ** 20 };

describe('planCapacity', () => {
  it('sizes relays by CPU (upkeep + deliveries over the headroom) when that needs more than memory', () => {
    const plan = planCapacity(costs, { connections: 1_000_000, rooms: 100_000, deliveredPerSecond: 500_000, roomSize: 4 }, assumptions);
    // 1e6 × 10 µs/s + 5e5 × 50 µs = 35 cores busy; 35 / 0.5 = 70 relays. Memory: 1e6 × 10 kB / (1000 MiB) → 10.
    expect(plan.relayCores).toBeCloseTo(35);
    expect(plan.relaysForCpu).toBe(70);
    expect(plan.relaysForMemory).toBe(10);
    expect(plan.relays).toBe(70);
    expect(plan.publishedPerSecond).toBe(125_000);
  });

  it('sizes relays by memory when connections are many and messages few', () => {
    const plan = planCapacity(costs, { connections: 1_000_000, rooms: 1, deliveredPerSecond: 0, roomSize: 4 }, { ...assumptions, cpuHeadroom: 1 });
    expect(plan.relaysForCpu).toBe(10);
    expect(plan.relaysForMemory).toBe(10);
    expect(planCapacity({ ...costs, relayRssBytesPerConnection: 20_000 }, { connections: 1_000_000, rooms: 1, deliveredPerSecond: 0, roomSize: 4 }, { ...assumptions, cpuHeadroom: 1 }).relays).toBe(20);
  });

  it('charges Redis per published message, scaled by how many more relays a room reaches than in the run', () => {
    const plan = planCapacity(costs, { connections: 1_000_000, rooms: 100_000, deliveredPerSecond: 500_000, roomSize: 4 }, assumptions);
    // 70 relays: a room of 4 reaches 70 · (1 − (69/70)^4) ≈ 3.92 of them, 1.31× the run's 3.
    expect(plan.pubSubSpread).toBeCloseTo((70 * (1 - (69 / 70) ** 4)) / 3, 6);
    expect(plan.redisCores).toBeCloseTo((125_000 * 60 * plan.pubSubSpread) / 1e6, 6);
    expect(plan.shards).toBe(Math.ceil(plan.redisCores / 0.5));
    // 125,000 × 60 µs = 7.5 cores → 15 shards at half a core each.
    expect(plan.shardsWithoutSpread).toBe(15);
  });

  it('takes what an empty process burns off the share of its core the load may use', () => {
    const plan = planCapacity(
      { ...costs, relayCpuMicrosPerSecondEmpty: 100_000, redisCpuMicrosPerSecondEmpty: 100_000 },
      { connections: 1_000_000, rooms: 100_000, deliveredPerSecond: 500_000, roomSize: 4 },
      assumptions,
    );
    expect(plan.relaysForCpu).toBe(Math.ceil(35 / 0.4));
    expect(plan.shardsWithoutSpread).toBe(Math.ceil(7.5 / 0.4));
  });
});
