import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnServer, stopChild } from './child-process.js';

/** The repository root, found from this file's location. */
export const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));

export interface NodeServiceOptions {
  /** Service folder under services/, e.g. 'msa', or a path relative to the repository root. */
  service: string;
  env: Record<string, string>;
  opsPort: number;
  /**
   * Node's arguments instead of the default (tsx, the telemetry preload and the TypeScript entry), e.g.
   * a bundle as the image runs it (`node dist/<name>.js`, see bench/lib/bundled-service.ts).
   */
  command?: string[];
  /** Forward the service's log lines here (default: keep the last few KiB for error messages). */
  onOutput?: (chunk: string) => void;
}

/**
 * One Hermod service as a child process, run from TypeScript source with tsx and the telemetry
 * preload, exactly as `npm start` does (or with the given node arguments). Tests use it to SIGKILL and restart services.
 */
export class NodeServiceProcess {
  private child: ChildProcess | undefined;
  private output: () => string = () => '';

  constructor(readonly options: NodeServiceOptions) {}

  get name(): string {
    return this.options.service;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(readyTimeoutMs = 30_000): Promise<void> {
    this.spawn();
    await this.waitReady(readyTimeoutMs);
  }

  /** Starts the process without waiting for it to be ready (a test of start-up itself). */
  spawn(): void {
    const entry = this.options.service.includes('/')
      ? this.options.service
      : `services/${this.options.service}/src/main.ts`;
    const { child, output } = spawnServer(
      process.execPath,
      this.options.command ?? ['--import', 'tsx', '--import', '@hermod/telemetry/register', entry],
      {
        cwd: repositoryRoot,
        env: { ...process.env, ...this.options.env, OPS_PORT: String(this.options.opsPort) },
      },
    );
    this.child = child;
    this.output = output;
    if (this.options.onOutput) {
      child.stdout?.on('data', (c: Buffer) => this.options.onOutput?.(c.toString('utf8')));
      child.stderr?.on('data', (c: Buffer) => this.options.onOutput?.(c.toString('utf8')));
    }
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`${this.name} exited during start-up:\n${this.output()}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.options.opsPort}/readyz`);
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms:\n${this.output()}`);
  }

  async stop(graceMs = 15_000): Promise<void> {
    if (this.child) await stopChild(this.child, 'SIGTERM', graceMs);
  }

  async kill(): Promise<void> {
    if (this.child) await stopChild(this.child, 'SIGKILL');
  }

  logs(): string {
    return this.output();
  }
}
