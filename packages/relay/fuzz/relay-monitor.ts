import { readFileSync } from 'node:fs';

export interface RelayVitals {
  /** Longest event-loop stall any relay reported (prom-client's monitorEventLoopDelay max), ms. */
  maxStallMs: number;
  /** The longest stall seen while each phase of the run was under way, ms. */
  stallByPhaseMs: Record<string, number>;
  /** Relay RSS (MB, summed) as each phase began. */
  rssAtPhaseMb: Record<string, number>;
  /** Relay RSS in MB, summed over the relays: at `startMemory()`, at the highest since, and at the end (after settling). */
  rssStartMb: number;
  rssPeakMb: number;
  rssEndMb: number;
}

const rssMb = (pid: number | undefined): number => {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
};

async function stallMs(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    return Number(/^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1] ?? 0) * 1000;
  } catch {
    return 0;
  }
}

/**
 * Watches relay processes while the fuzzer feeds them: every 200 ms, each relay's own event-loop
 * delay maximum since the last look (read from its /metrics, so the fuzzer's own busyness does not
 * count) and its RSS from /proc.
 */
export function monitorRelays(relays: { url: string; child: { pid?: number | undefined } }[]): { phase(name: string): void; startMemory(): void; stop(): Promise<RelayVitals> } {
  const total = () => relays.reduce((sum, relay) => sum + rssMb(relay.child.pid), 0);
  const vitals: RelayVitals = { maxStallMs: 0, stallByPhaseMs: {}, rssAtPhaseMb: {}, rssStartMb: total(), rssPeakMb: 0, rssEndMb: 0 };
  let phase = 'start';
  vitals.rssPeakMb = vitals.rssStartMb;
  let running = true;
  const loop = (async () => {
    // Start the stall window now: the first scrape returns the delay since the relay started.
    await Promise.all(relays.map((relay) => stallMs(relay.url)));
    while (running) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const stalls = await Promise.all(relays.map((relay) => stallMs(relay.url)));
      vitals.maxStallMs = Math.max(vitals.maxStallMs, ...stalls);
      vitals.stallByPhaseMs[phase] = Math.max(vitals.stallByPhaseMs[phase] ?? 0, ...stalls);
      vitals.rssPeakMb = Math.max(vitals.rssPeakMb, total());
    }
  })();
  return {
    startMemory() {
      vitals.rssStartMb = vitals.rssPeakMb = total();
    },
    phase(name) {
      phase = name;
      vitals.rssAtPhaseMb[name] = total();
    },
    async stop() {
      // Let the relays settle (closed sockets freed, a GC or two), then take the end reading.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      running = false;
      await loop;
      vitals.rssEndMb = total();
      return vitals;
    },
  };
}
