// One platform per data folder. The platform writes its pid to platform.pid there and marks every
// process it starts with HERMOD_PLATFORM_RUN=<data folder> in their environment. A start can then
// tell a copy that still runs (refused: two copies would share one PostgreSQL and JetStream store)
// from one that was killed with kill -9 and left nats-server, PostgreSQL and the services running
// (stopped before the port check, so they do not block the new start). The marker is read from
// /proc; where there is none, only the pid file is used and the port check names what is left.
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const RUN_FILE = 'platform.pid';
export const RUN_MARKER = 'HERMOD_PLATFORM_RUN';

export interface LeftoverProcess {
  pid: number;
  command: string;
}

/** What a leftover is, for a person: the service of a node process, else the program's file name. */
export function leftoverName(command: string): string {
  const service = /services\/([\w-]+)\/src\/main\.ts/.exec(command)?.[1];
  return service ?? command.split(' ')[0]?.split('/').pop() ?? command;
}

/** Whether pid runs; a zombie (exited, waiting for its new parent to reap it) counts as gone. */
async function isAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

/** Field 22 of /proc/<pid>/stat: when the process started, so a reused pid is not taken for ours. */
async function startTimeOf(pid: number | 'self'): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
}

/** The pid of the platform that runs on dataDir now, if any. */
async function runningPlatform(dataDir: string): Promise<number | undefined> {
  const [pidText, started = ''] = (await readFile(join(dataDir, RUN_FILE), 'utf8').catch(() => '')).split(
    '\n',
  );
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || !(await isAlive(pid))) return undefined;
  return (await startTimeOf(pid)) === started ? pid : undefined;
}

/** Processes a platform on dataDir started (found by the marker in their environment). */
export async function leftoverProcesses(dataDir: string): Promise<LeftoverProcess[]> {
  const marker = `\0${RUN_MARKER}=${dataDir}\0`;
  const found: LeftoverProcess[] = [];
  const pids = await readdir('/proc').catch(() => [] as string[]);
  for (const entry of pids.filter((p) => /^\d+$/.test(p) && Number(p) !== process.pid)) {
    const environ = await readFile(`/proc/${entry}/environ`, 'utf8').catch(() => '');
    if (!`\0${environ}`.includes(marker)) continue;
    const command = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => ''))
      .replaceAll('\0', ' ')
      .trim();
    if (await isAlive(Number(entry))) found.push({ pid: Number(entry), command });
  }
  return found;
}

/**
 * Stops what a killed platform left: the services and nats-server by SIGTERM, PostgreSQL by SIGINT
 * to its postmaster (a fast shutdown; its own processes follow it), then SIGKILL to what is left.
 */
export async function stopLeftovers(left: LeftoverProcess[], graceMs = 15_000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // gone meanwhile
    }
  };
  for (const p of left) {
    if (p.command.startsWith('postgres:')) continue; // a PostgreSQL child: the postmaster stops it
    signal(p.pid, /(^|\/)postgres .*-D /.test(p.command) ? 'SIGINT' : 'SIGTERM');
  }
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const alive: LeftoverProcess[] = [];
      for (const p of left) if (await isAlive(p.pid)) alive.push(p);
      if (alive.length === 0 || Date.now() > deadline) return alive;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stubborn = await waitGone(graceMs);
  for (const p of stubborn) signal(p.pid, 'SIGKILL');
  await waitGone(5_000);
}

export type RunFileClaim =
  | { claimed: true; stoppedLeftovers: LeftoverProcess[] }
  | { claimed: false; runningPid: number };

/**
 * Makes this process the platform of dataDir: refused while another one runs there; otherwise what
 * a killed one left is stopped first. Marks this process's environment, which every child inherits.
 */
export async function claimRunFile(dataDir: string): Promise<RunFileClaim> {
  const running = await runningPlatform(dataDir);
  if (running !== undefined && running !== process.pid) return { claimed: false, runningPid: running };
  const left = await leftoverProcesses(dataDir);
  await stopLeftovers(left);
  await rm(join(dataDir, RUN_FILE), { force: true });
  try {
    // 'wx': of two starts at the same moment, one writes the file and the other is refused.
    await writeFile(join(dataDir, RUN_FILE), `${process.pid}\n${await startTimeOf('self')}\n`, {
      mode: 0o644,
      flag: 'wx',
    });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const other = await runningPlatform(dataDir);
    if (other !== undefined) return { claimed: false, runningPid: other };
    throw error;
  }
  process.env[RUN_MARKER] = dataDir;
  return { claimed: true, stoppedLeftovers: left };
}

export async function releaseRunFile(dataDir: string): Promise<void> {
  if ((await runningPlatform(dataDir)) === process.pid) await rm(join(dataDir, RUN_FILE), { force: true });
}
