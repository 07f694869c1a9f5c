import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { isPortFree, MAX_PORT_OFFSET, PORT_OFFSET_STEP, repositoryRoot } from '@hermod/local-infra';
import { run } from './tools.js';

/** A local platform (`npm start`) as a user starts it, for tests of the platform and the CLI. */
export interface LocalPlatform {
  offset: number;
  dataDir: string;
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code once it exited. */
  exited: Promise<number | null>;
  /** SIGINT to this process alone (as a supervisor sends it); SIGKILL if it is not gone in 60 s. */
  stop(): Promise<number | null>;
  /** `hermod` (bin/hermod.js) as a user runs it for this platform: only the same two variables set. */
  cli(args: string[], input?: string): ReturnType<typeof run>;
}

const taken = new Set<number>();

/**
 * A port offset no other platform on this machine seems to use (its NATS, NATS monitoring and
 * submission ports are free), and none this process handed out already.
 */
export async function freePortOffset(): Promise<number> {
  const offsets: number[] = [];
  for (let o = PORT_OFFSET_STEP; o <= MAX_PORT_OFFSET; o += PORT_OFFSET_STEP) offsets.push(o);
  offsets.sort(() => Math.random() - 0.5);
  for (const offset of offsets) {
    if (taken.has(offset)) continue;
    const free = await Promise.all([4222, 8322, 54329, 2587, 7001].map((p) => isPortFree(p + offset)));
    if (free.every(Boolean)) {
      taken.add(offset);
      return offset;
    }
  }
  throw new Error('no free port offset for a local platform');
}

/**
 * Starts `npm start` (through npm, or node directly) with HERMOD_PORT_OFFSET and HERMOD_DATA_DIR;
 * resolves once it says it is running, or rejects (with its output) when it exits first.
 */
export function startLocalPlatform(options: {
  offset: number;
  dataDir: string;
  env?: Record<string, string>;
  viaNpm?: boolean;
  /** Resolve when the platform exits instead of rejecting (for tests of failed starts). */
  expectFailure?: boolean;
}): Promise<LocalPlatform> {
  const env = {
    ...process.env,
    HERMOD_DATA_DIR: options.dataDir,
    HERMOD_PORT_OFFSET: String(options.offset),
    LOG_LEVEL: 'warn',
    DATABASE_URL: '',
    NATS_URL: '',
    ROUTING_GRPC_ADDRESS: '',
    ...options.env,
  };
  const child = options.viaNpm
    ? spawn('npm', ['start', '--silent'], { cwd: repositoryRoot, env, stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, ['--import', 'tsx', 'services/platform/src/main.ts'], {
        cwd: repositoryRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const platform: LocalPlatform = {
    offset: options.offset,
    dataDir: options.dataDir,
    child,
    output: () => output,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGINT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
    cli: (args, input) =>
      run(process.execPath, ['services/cli/bin/hermod.js', ...args], {
        cwd: repositoryRoot,
        env: {
          ...process.env,
          HERMOD_DATA_DIR: options.dataDir,
          HERMOD_PORT_OFFSET: String(options.offset),
          DATABASE_URL: '',
          NATS_URL: '',
          ROUTING_GRPC_ADDRESS: '',
        },
        ...(input !== undefined ? { input } : {}),
        timeoutMs: 60_000,
      }),
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void platform.stop();
      reject(new Error(`platform did not come up:\n${output.slice(-4000)}`));
    }, 240_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('Hermod is running')) {
        clearTimeout(timer);
        resolve(platform);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      if (options.expectFailure) resolve(platform);
      else reject(new Error(`platform exited with ${code}:\n${output.slice(-4000)}`));
    });
  });
}

/** Processes whose command line or environment names this folder (what a platform would leave behind). */
export function processesUsing(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmdline.includes(dir) || environ.includes(dir)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
