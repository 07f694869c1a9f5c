/** What the supervisor needs of a service process (NodeServiceProcess has it). */
export interface Supervised {
  readonly name: string;
  readonly running: boolean;
  start(readyTimeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface SuperviseOptions {
  say: (line: string) => void;
  stopping: () => boolean;
  /** Waits; injectable so a test can run the schedule without waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** How often to look whether the process is still there. */
  checkEveryMs?: number;
  readyTimeoutMs?: number;
}

/** 1 s, 2 s, 4 s, ... at most 30 s between attempts; back to 1 s once a start succeeded. */
export function restartDelayMs(failures: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, failures));
}

const defaultSleep = (ms: number) =>
  new Promise<void>((resolve) => {
    setTimeout(resolve, ms).unref();
  });

/**
 * Starts a crashed service again, for ever, like a Deployment: a start that fails is tried again
 * after a growing delay instead of being given up on. Returns when the platform is stopping.
 */
export async function supervise(proc: Supervised, options: SuperviseOptions): Promise<void> {
  const sleep = options.sleep ?? defaultSleep;
  let failures = 0;
  while (!options.stopping()) {
    await sleep(options.checkEveryMs ?? 1_000);
    if (options.stopping() || proc.running) continue;
    const delay = restartDelayMs(failures);
    options.say(`${proc.name} is not running; starting it again in ${Math.round(delay / 1000)} s`);
    await sleep(delay);
    if (options.stopping()) return;
    try {
      await proc.start(options.readyTimeoutMs ?? 60_000);
      options.say(`${proc.name} restarted`);
      failures = 0;
    } catch (error) {
      failures++;
      await proc.stop().catch(() => {}); // started but never ready: not left half-running
      options.say(
        `${proc.name} did not start (attempt ${failures}): ${(error as Error).message.split('\n')[0]}`,
      );
    }
  }
}
