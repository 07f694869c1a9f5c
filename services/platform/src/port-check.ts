import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isPortFree } from '@hermod/local-infra';

const run = promisify(execFile);

/** One port the platform is about to listen on, and what for. */
export interface PlannedPort {
  port: number;
  use: string;
}

/** The program listening on a port ("nats-server, pid 1234"), when `ss` can tell. */
async function holderOf(port: number): Promise<string | undefined> {
  try {
    const { stdout } = await run('ss', ['-Hltnp', `sport = :${port}`], { timeout: 2_000 });
    const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(stdout);
    return match ? `${match[1]}, pid ${match[2]}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Every planned port that cannot be used, each as a line saying which port, what it was for and
 * (when it can be told) which program holds it; also a port planned twice (by NATS_PORT or the like).
 */
export async function portProblems(planned: PlannedPort[]): Promise<string[]> {
  const problems: string[] = [];
  const seen = new Map<number, string>();
  for (const { port, use } of planned) {
    const earlier = seen.get(port);
    if (earlier) {
      problems.push(`port ${port} is planned for both ${earlier} and ${use}`);
      continue;
    }
    seen.set(port, use);
    if (await isPortFree(port)) continue;
    const holder = await holderOf(port);
    problems.push(`port ${port} (${use}) is already in use${holder ? ` by ${holder}` : ''}`);
  }
  return problems;
}
