import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU time of a process, in microseconds. */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) / TICKS_PER_SECOND) * 1_000_000;
}

/** Resident set size of a process, in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(status.match(/^VmRSS:\s+(\d+) kB$/m)?.[1] ?? 0);
  return kb * 1024;
}

/** CPU time all cores spent busy (not idle or waiting for I/O) since boot, in microseconds (/proc/stat). */
export function machineBusyMicros(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return ((user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND) * 1_000_000;
}

/** `pid` and every process below it, by parent id (/proc/<pid>/stat). */
function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

/** CPU time of `pid` and its descendants, in microseconds (processes that exit meanwhile are skipped). */
export function treeCpuMicros(pid: number): number {
  let total = 0;
  for (const member of processTree(pid)) {
    try {
      total += cpuMicros(member);
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

/**
 * Measures how much of the machine other processes used over a window: all cores' busy time minus
 * this bench's own processes (`root` and below, e.g. the bench, its servers and load workers, its
 * Redis), as a share of the window's CPU capacity. On a shared machine a run next to someone else's
 * load is not a measurement of the code: this says when that happened.
 */
export function watchForeignCpu(root: number): () => number {
  const cores = cpus().length;
  const started = performance.now();
  const machineBefore = machineBusyMicros();
  const oursBefore = treeCpuMicros(root);
  return () => {
    const elapsedMicros = (performance.now() - started) * 1000;
    const foreign = machineBusyMicros() - machineBefore - (treeCpuMicros(root) - oursBefore);
    return Math.max(0, foreign) / (elapsedMicros * cores);
  };
}
