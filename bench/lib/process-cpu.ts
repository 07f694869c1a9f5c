// CPU seconds per component, read from /proc: a snapshot before and after a round gives what each
// part of each system spent on it (Hermod's services, PostgreSQL, nats-server, Postfix's daemons,
// clamd, unbound).
// A process's own time plus that of the children it reaped counts each CPU second once, also for
// short-lived Postfix daemons that exit during the round.
import { readdirSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

const postfixDaemons = new Set([
  'master',
  'smtpd',
  'cleanup',
  'qmgr',
  'trivial-rewrite',
  'virtual',
  'local',
  'pickup',
  'anvil',
  'tlsmgr',
  'scache',
  'bounce',
  'proxymap',
  'smtp',
]);

/** The component a command line belongs to, undefined for everything else (the bench itself, the OS). */
export function componentOf(cmdline: string[]): string | undefined {
  const joined = cmdline.join(' ');
  // From source (tsx) or as a bench bundles it (dist/bench/<name>.js, see bench/imap.ts).
  const service = /services\/([a-z-]+)\/src\/main\.ts|dist\/bench\/([a-z-]+)\.js/
    .exec(joined)
    ?.slice(1)
    .find(Boolean);
  if (service) return service;
  const program = basename(cmdline[0] ?? '');
  if (program.startsWith('postgres')) return 'postgres';
  if (program.startsWith('nats-server')) return 'nats-server';
  // Dovecot's master and every process it starts (imap, imap-login, auth, ...) title themselves dovecot/<name>.
  if (program === 'dovecot' || (cmdline[0] ?? '').startsWith('dovecot/')) return 'dovecot';
  if (program === 'smtp-source' || program === 'smtp-sink' || program === 'clamd' || program === 'unbound')
    return program;
  if (postfixDaemons.has(program)) return 'postfix';
  return undefined;
}

const ticksPerSecond = 100; // USER_HZ, 100 on every Linux architecture we run on

/** The fields of /proc/<pid>/stat after the parenthesized command name (ppid is [1], utime..cstime [11..14]). */
function statFields(pid: string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // The process ended between readdir and read.
  }
}

/** Every live process below `root` that belongs to a component, with its stat fields. */
export function componentProcesses(
  root: number,
): Array<{ pid: string; component: string; fields: string[] }> {
  const stats = new Map<string, string[]>();
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    const fields = statFields(pid);
    if (fields) stats.set(pid, fields);
  }
  const below = (pid: string): boolean => {
    for (let at = pid, hops = 0; at !== '0' && hops < 64; hops++) {
      if (at === String(root)) return true;
      const parent = stats.get(at)?.[1];
      if (!parent) return false;
      at = parent;
    }
    return false;
  };
  const found: Array<{ pid: string; component: string; fields: string[] }> = [];
  for (const [pid, fields] of stats) {
    if (pid === String(root) || !below(pid)) continue;
    let cmdline: string[];
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    const component = componentOf(cmdline);
    if (component) found.push({ pid, component, fields });
  }
  return found;
}

/** A process's own CPU seconds plus those of the children it reaped (utime, stime, cutime, cstime). */
const secondsOf = (fields: string[]): number =>
  [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / ticksPerSecond;

/**
 * CPU seconds so far of every live process below `root` (by default this process: the services,
 * PostgreSQL, nats-server and Postfix the bench started), summed by component. Only descendants
 * count: on a shared machine other people's PostgreSQL or services would otherwise be added in.
 */
export function cpuByComponent(root: number = process.pid): Map<string, number> {
  const totals = new Map<string, number>();
  for (const { component, fields } of componentProcesses(root))
    totals.set(component, (totals.get(component) ?? 0) + secondsOf(fields));
  return totals;
}

/**
 * cpuByComponent for one component, to read often (around every batch of a round): the processes
 * are found once, here, and each reading reads only theirs, where a whole scan reads every process
 * of the box and leaves garbage that the measured code's collector then pays for. What the
 * component starts after this call is not counted: take a new reader per round.
 */
export function cpuReaderOf(component: string, root: number = process.pid): () => number {
  const pids = componentProcesses(root)
    .filter((p) => p.component === component)
    .map((p) => p.pid);
  return () => {
    let seconds = 0;
    for (const pid of pids) {
      const fields = statFields(pid);
      if (fields) seconds += secondsOf(fields);
    }
    return seconds;
  };
}

/** What each component spent between two snapshots, per 1,000 messages, largest first. */
export function cpuPerThousand(
  before: Map<string, number>,
  after: Map<string, number>,
  messages: number,
  components: string[],
): Array<{ component: string; seconds: number }> {
  return components
    .map((component) => ({
      component,
      seconds: (((after.get(component) ?? 0) - (before.get(component) ?? 0)) * 1000) / messages,
    }))
    .filter((c) => c.seconds > 0)
    .sort((a, b) => b.seconds - a.seconds);
}

export const formatCpu = (rows: Array<{ component: string; seconds: number }>): string =>
  `${rows.reduce((sum, r) => sum + r.seconds, 0).toFixed(2)} s (${rows.map((r) => `${r.component} ${r.seconds.toFixed(2)}`).join(', ')})`;

/**
 * CPU seconds so far of the live processes below `root` whose component is `component`, from
 * /proc/<pid>/schedstat (nanoseconds, where /proc/<pid>/stat counts 10 ms ticks): fine enough to
 * divide among a few hundred short commands. Processes that ended are not counted.
 */
export function preciseCpuOf(component: string, root: number = process.pid): number {
  let seconds = 0;
  const parents = new Map<string, string>();
  const pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    const parent = statFields(pid)?.[1];
    if (parent) parents.set(pid, parent);
  }
  for (const pid of pids) {
    let at = parents.get(pid);
    for (let hops = 0; at && at !== String(root) && hops < 64; hops++) at = parents.get(at);
    if (at !== String(root)) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean);
      if (componentOf(cmdline) !== component) continue;
      seconds += Number(readFileSync(`/proc/${pid}/schedstat`, 'latin1').split(' ')[0]) / 1e9;
    } catch {
      // The process ended between readdir and read.
    }
  }
  return seconds;
}
