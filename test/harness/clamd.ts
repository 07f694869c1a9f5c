// Debian's clamd as a private process for tests: a generated clamd.conf on 127.0.0.1 (and a unix
// socket), archive and mail scanning on, and a signature database written by the harness (no
// downloads): an .hdb file hash of the EICAR test file and an .ndb body pattern for a test string.
// Start-up with this database takes well under a second of clamd's own time.
// clamd's TemporaryDirectory is on memory (a tmpfs, /dev/shm) as in the recommended deployment
// (docs/malware-and-quarantine.md): clamd writes every stream, and a directory per scan, there.
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pingClamd } from '@hermod/content-scan';
import { freePort, spawnServer, stopChild } from '@hermod/local-infra';
import { eventually } from './eventually.js';
import { requireTool } from './tools.js';
import { testWorkdir } from './workdir.js';

/** The EICAR anti-virus test file (68 bytes); harmless, detected by every scanner's signatures. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';
/**
 * What clamd reports for the EICAR file as a whole file (an attachment, a zip member: the .hdb
 * hash) and for EICAR inside a larger file (a plain-text body with its line end: an .ndb pattern).
 * clamd appends .UNOFFICIAL to names from unsigned databases.
 */
export const EICAR_SIGNATURE = 'Hermod.Test.EICAR.UNOFFICIAL';
export const EICAR_SIGNATURES = [EICAR_SIGNATURE, 'Hermod.Test.EICAR-Body.UNOFFICIAL'];
/** A string found anywhere in a scanned file by the harness' .ndb body signature. */
export const TEST_PATTERN = 'HERMOD-MALWARE-TEST-PATTERN-7f3a';
export const TEST_PATTERN_SIGNATURE = 'Hermod.Test.Pattern.UNOFFICIAL';

export interface ClamdPeerOptions {
  /** clamd's StreamMaxLength (INSTREAM size limit), e.g. '1M'. */
  streamMaxLength?: string;
  /** clamd's MaxThreads (scanning threads); clamd's default (10) when unset. */
  maxThreads?: number;
  /**
   * Where clamd writes each stream and its per-scan directory: 'memory' (default; a tmpfs, /dev/shm,
   * when the machine has one) or 'disk' (the test's work directory; what a clamd with
   * TemporaryDirectory on a disk does, for comparison in bench/clamd-scan.ts).
   */
  temporaryDirectory?: 'memory' | 'disk';
  /**
   * clamd's timeouts in seconds, where a test needs them short: ReadTimeout (waiting for the next
   * INSTREAM chunk), CommandReadTimeout and IdleTimeout. clamd's defaults when unset.
   */
  readTimeout?: number;
  commandReadTimeout?: number;
  idleTimeout?: number;
}

/** A tmpfs that Linux machines and containers mount (used when it exists). */
const MEMORY_DIRECTORY = '/dev/shm';

export class ClamdPeer {
  private child: ChildProcess | undefined;
  private output: () => string = () => '';
  private config = '';
  /** clamd's temporary directory when on memory: made by start(), removed by stop(). */
  private memoryDirectory: string | undefined;
  port = 0;
  socketPath = '';
  /** Milliseconds from spawn to the first PONG. */
  startupMs = 0;

  /** host:port for the services' CLAMD_ADDRESS. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(options: ClamdPeerOptions = {}): Promise<void> {
    await requireTool('clamd', 'apt-get install --no-install-recommends clamav-daemon');
    if (!this.config) {
      const dir = await testWorkdir('clamd');
      const db = join(dir, 'db');
      await mkdir(db, { recursive: true });
      const md5 = createHash('md5').update(EICAR).digest('hex');
      const hex = (s: string) => Buffer.from(s).toString('hex');
      await writeFile(join(db, 'hermod-test.hdb'), `${md5}:${EICAR.length}:Hermod.Test.EICAR\n`);
      await writeFile(
        join(db, 'hermod-test.ndb'),
        `Hermod.Test.Pattern:0:*:${hex(TEST_PATTERN)}\nHermod.Test.EICAR-Body:0:*:${hex(EICAR)}\n`,
      );
      this.port = await freePort();
      this.socketPath = join(dir, 'clamd.sock');
      this.config = join(dir, 'clamd.conf');
      let temporary = dir;
      if ((options.temporaryDirectory ?? 'memory') === 'memory' && existsSync(MEMORY_DIRECTORY)) {
        this.memoryDirectory = await mkdtemp(join(MEMORY_DIRECTORY, 'hermod-clamd-'));
        temporary = this.memoryDirectory;
      }
      await writeFile(
        this.config,
        [
          'Foreground yes',
          `TCPSocket ${this.port}`,
          'TCPAddr 127.0.0.1',
          `LocalSocket ${this.socketPath}`,
          `DatabaseDirectory ${db}`,
          `PidFile ${join(dir, 'clamd.pid')}`,
          `TemporaryDirectory ${temporary}`,
          'ScanArchive yes',
          'ScanMail yes',
          `StreamMaxLength ${options.streamMaxLength ?? '1M'}`,
          ...(options.maxThreads ? [`MaxThreads ${options.maxThreads}`] : []),
          ...(options.readTimeout ? [`ReadTimeout ${options.readTimeout}`] : []),
          ...(options.commandReadTimeout ? [`CommandReadTimeout ${options.commandReadTimeout}`] : []),
          ...(options.idleTimeout ? [`IdleTimeout ${options.idleTimeout}`] : []),
          'Bytecode no',
          'SelfCheck 0',
          '',
        ].join('\n'),
      );
    }
    if (this.memoryDirectory) await mkdir(this.memoryDirectory, { recursive: true, mode: 0o700 });
    const started = Date.now();
    const { child, output } = spawnServer('clamd', ['-c', this.config]);
    this.child = child;
    this.output = output;
    const state = await eventually(
      'clamd answering PING',
      async () =>
        child.exitCode !== null
          ? 'exited'
          : (await pingClamd({ host: '127.0.0.1', port: this.port }, 1_000))
            ? 'ready'
            : undefined,
      60_000,
    ).catch((error: Error) => error.message);
    if (state !== 'ready') throw new Error(`clamd ${state}:\n${output()}`);
    this.startupMs = Date.now() - started;
  }

  /** Stops answering (SIGSTOP): connections are accepted by the kernel, no verdict ever comes. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    this.resume();
    await stopChild(this.child);
    this.child = undefined;
    // Memory is not left taken; start() makes the directory again.
    if (this.memoryDirectory) await rm(this.memoryDirectory, { recursive: true, force: true });
  }

  /** Recent output, for failure messages. */
  log(): string {
    return this.output();
  }
}
