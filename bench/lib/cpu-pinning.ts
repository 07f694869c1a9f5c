// `--clamd-cpu N` (bench/mx-filtering.ts): clamd on a CPU of its own, as in its own pod, and the
// platform it serves held to the other CPUs, the same in both of the bench's modes. Pinned with
// util-linux's taskset, every thread (-a) of every process; what a pinned process starts later
// (PostgreSQL's backends, a thread pool's new threads) inherits its CPUs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { componentProcesses } from './process-cpu.js';

export interface CpuPlan {
  /** CPUs (taskset's list form) per component; components not named are left as they are. */
  components: Record<string, string>;
  /** CPUs of the bench itself, and so of what it starts later and does not pin (smtp-source). */
  bench: string;
}

/**
 * The plan for `--clamd-cpu N`: clamd on CPU N; the platform (mx, routing, mda, PostgreSQL,
 * nats-server) on every other CPU; the bench and its load generator on CPU N with clamd, where
 * they take no CPU from the platform (on the platform's CPUs their CPU per message would count
 * in both modes and pull the ratio toward 1) and little from clamd, whose CPU is mostly idle.
 */
export function clamdOwnCpuPlan(clamdCpu: number, platform: readonly string[]): CpuPlan {
  const cpus = availableParallelism();
  if (!Number.isInteger(clamdCpu) || clamdCpu < 0 || clamdCpu >= cpus || cpus < 2)
    throw new Error(`--clamd-cpu ${clamdCpu}: needs a CPU number below ${cpus} on a box of 2 CPUs or more`);
  const others = Array.from({ length: cpus }, (_, i) => i).filter((i) => i !== clamdCpu);
  const rest = others.join(',');
  return {
    components: { clamd: String(clamdCpu), ...Object.fromEntries(platform.map((c) => [c, rest])) },
    bench: String(clamdCpu),
  };
}

/** Pins one process, all its threads, to `cpus`; false when it ended meanwhile. */
function pin(pid: string | number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Pins the bench itself and every process below it that the plan names. */
export function applyCpuPlan(plan: CpuPlan, root: number = process.pid): void {
  // The bench itself cannot have ended: a failure here is taskset missing or refused.
  if (!pin(root, plan.bench))
    throw new Error(`taskset -a -p -c ${plan.bench} ${root} failed (util-linux's taskset needed)`);
  for (const { pid, component } of componentProcesses(root)) {
    const cpus = plan.components[component];
    if (cpus !== undefined) pin(pid, cpus);
  }
}

/** The CPUs each component's processes may run on now (from /proc), e.g. `mx 0, clamd 1`. */
export function describeAffinity(root: number = process.pid): string {
  const seen = new Map<string, Set<string>>();
  for (const { pid, component } of componentProcesses(root)) {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'latin1');
      const cpus = /^Cpus_allowed_list:\s*(\S+)/m.exec(status)?.[1] ?? '?';
      if (!seen.has(component)) seen.set(component, new Set());
      seen.get(component)!.add(cpus);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return [...seen].map(([component, cpus]) => `${component} ${[...cpus].join('|')}`).join(', ');
}
