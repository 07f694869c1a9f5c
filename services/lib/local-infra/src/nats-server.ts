import { type ChildProcess, execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnServer, stopChild, waitForPort } from './child-process.js';
import { ensureGoBinary, MissingPrerequisiteError } from './go-binaries.js';

const run = promisify(execFile);

/** 2.10 is the first release with `sync_interval`; this is the version we build when none is found. */
export const NATS_SERVER_VERSION = 'v2.12.15';

async function versionOf(binary: string): Promise<[number, number] | undefined> {
  try {
    const { stdout } = await run(binary, ['--version']);
    const match = /v?(\d+)\.(\d+)\.\d+/.exec(stdout);
    return match ? [Number(match[1]), Number(match[2])] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A nats-server of at least 2.10: NATS_SERVER_BIN, else one on PATH that is new enough, else one
 * built from Go modules into the cache (Debian's package is 2.9, too old).
 */
export async function ensureNatsServer(log?: (line: string) => void): Promise<string> {
  const explicit = process.env.NATS_SERVER_BIN;
  if (explicit) {
    if (!(await versionOf(explicit)))
      throw new MissingPrerequisiteError(
        `nats-server at NATS_SERVER_BIN=${explicit}`,
        'point NATS_SERVER_BIN at a nats-server 2.10+, or unset it to use one on PATH (or have one built with Go)',
      );
    return explicit;
  }
  const onPath = await versionOf('nats-server');
  if (onPath && (onPath[0] > 2 || (onPath[0] === 2 && onPath[1] >= 10))) return 'nats-server';
  return ensureGoBinary(
    { name: 'nats-server', packagePath: 'github.com/nats-io/nats-server/v2', version: NATS_SERVER_VERSION },
    log,
  );
}

export interface NatsServerOptions {
  binary: string;
  port: number;
  monitorPort?: number;
  storeDir: string;
  /** 'always' fsyncs every JetStream write before acknowledging it. */
  syncInterval?: 'always' | string;
}

/** One local nats-server with JetStream, restartable (and killable) by tests. */
export class NatsServerProcess {
  private child: ChildProcess | undefined;
  private output: () => string = () => '';

  constructor(readonly options: NatsServerOptions) {}

  get url(): string {
    return `nats://127.0.0.1:${this.options.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Whether the server this object started is still there (a frozen one counts as running). */
  get running(): boolean {
    const child = this.child;
    return !!child?.pid && child.exitCode === null && child.signalCode === null;
  }

  async start(): Promise<void> {
    await mkdir(this.options.storeDir, { recursive: true });
    const configPath = join(this.options.storeDir, 'nats-server.conf');
    const lines = [
      `listen: "127.0.0.1:${this.options.port}"`,
      ...(this.options.monitorPort ? [`http: "127.0.0.1:${this.options.monitorPort}"`] : []),
      'server_name: "hermod-local"',
      'max_payload: 8MB',
      'jetstream {',
      `  store_dir: ${JSON.stringify(this.options.storeDir)}`,
      ...(this.options.syncInterval ? [`  sync_interval: ${this.options.syncInterval}`] : []),
      '}',
    ];
    await writeFile(configPath, lines.join('\n') + '\n');
    const { child, output } = spawnServer(this.options.binary, ['-c', configPath]);
    this.child = child;
    this.output = output;
    try {
      await waitForPort(this.options.port, 15_000, '127.0.0.1', () => child.exitCode !== null);
    } catch (error) {
      throw new Error(`nats-server did not start: ${(error as Error).message}\n${output()}`);
    }
  }

  async stop(): Promise<void> {
    if (this.child) await stopChild(this.child, 'SIGTERM');
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    if (this.child) await stopChild(this.child, 'SIGKILL');
  }

  /** SIGSTOP: the server keeps its connections open and answers nothing (a hung host). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** SIGCONT after pause(). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  logs(): string {
    return this.output();
  }
}
