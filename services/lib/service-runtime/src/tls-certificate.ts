import { X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { Logger } from '@hermod/logging';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ServiceBase } from './bootstrap.js';

/** A certificate and its private key, PEM. */
export interface CertificatePair {
  cert: Buffer;
  key: Buffer;
}

export interface CertificateFilesOptions {
  certFile: string;
  keyFile: string;
  logger: Logger;
  registry: Registry;
  /** Quiet time after the last file event before the pair is read again (a Secret update is several events). */
  debounceMs?: number;
}

/**
 * The serving certificate of a service, read from TLS_CERT_FILE/TLS_KEY_FILE and read again when
 * they change, without a restart. The directories holding the files are watched, not the files: a
 * Kubernetes Secret volume is updated by swapping its `..data` symlink, which replaces the files
 * rather than writing them. A new pair that does not load (half written, key not matching) is
 * refused: the previous one stays in service, the failure is logged and counted.
 *
 * `context` is the current context for the next handshake; `onChange` is for servers that build
 * their own contexts (smtp-server's `updateSecureContext`).
 */
export class CertificateFiles {
  private current: { pair: CertificatePair; context: SecureContext };
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly listeners: Array<(pair: CertificatePair) => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reading: Promise<void> = Promise.resolve();
  private readonly reloads: Counter<'result'>;
  private readonly notAfter: Gauge;

  private constructor(
    private readonly options: CertificateFilesOptions,
    pair: CertificatePair,
  ) {
    this.current = { pair, context: loadContext(pair) };
    this.reloads = new Counter({
      name: 'hermod_tls_certificate_reloads_total',
      help: 'Certificate reloads from TLS_CERT_FILE/TLS_KEY_FILE by result (reloaded, refused)',
      labelNames: ['result'],
      registers: [options.registry],
    });
    this.notAfter = new Gauge({
      name: 'hermod_tls_certificate_not_after_seconds',
      help: 'Expiry (Unix time) of the certificate in service',
      registers: [options.registry],
    });
    this.notAfter.set(expiry(pair.cert));
  }

  /** Reads the pair (failing if it does not load) and starts watching its directories. */
  static async open(options: CertificateFilesOptions): Promise<CertificateFiles> {
    const files = new CertificateFiles(options, await readPair(options));
    await files.watchDirectories();
    return files;
  }

  get context(): SecureContext {
    return this.current.context;
  }

  get pair(): CertificatePair {
    return this.current.pair;
  }

  onChange(listener: (pair: CertificatePair) => void): void {
    this.listeners.push(listener);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
  }

  /**
   * Watches the directories named by the paths (a `..data` swap happens there) and the ones the
   * symlinks resolve to now (a file written in place changes there); the latter move with each swap.
   */
  private async watchDirectories(): Promise<void> {
    if (this.stopped) return;
    const { certFile, keyFile } = this.options;
    const wanted = new Set([dirname(certFile), dirname(keyFile)]);
    for (const file of [certFile, keyFile])
      await realpath(file).then(
        (real) => wanted.add(dirname(real)),
        () => {},
      );
    for (const [directory, watcher] of this.watchers)
      if (!wanted.has(directory)) {
        watcher.close();
        this.watchers.delete(directory);
      }
    for (const directory of wanted) {
      if (this.watchers.has(directory)) continue;
      try {
        const watcher = watch(directory, { persistent: false }, () => this.schedule());
        // A directory that goes away (the previous `..<timestamp>` after a swap) ends its watch.
        watcher.on('error', () => {
          watcher.close();
          if (this.watchers.get(directory) === watcher) this.watchers.delete(directory);
        });
        this.watchers.set(directory, watcher);
      } catch (error) {
        this.options.logger.warn({ err: error, directory }, 'certificate directory not watched');
      }
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.reading = this.reading.then(async () => {
        await this.reload();
        await this.watchDirectories();
      });
    }, this.options.debounceMs ?? 250);
    this.timer.unref();
  }

  private async reload(): Promise<void> {
    const { logger } = this.options;
    let pair: CertificatePair;
    let context: SecureContext;
    try {
      pair = await readPair(this.options);
      if (pair.cert.equals(this.current.pair.cert) && pair.key.equals(this.current.pair.key)) return;
      context = loadContext(pair);
    } catch (error) {
      this.reloads.inc({ result: 'refused' });
      logger.error({ err: error }, 'new certificate refused; the previous one stays in service');
      return;
    }
    this.current = { pair, context };
    this.reloads.inc({ result: 'reloaded' });
    this.notAfter.set(expiry(pair.cert));
    logger.info({ notAfter: new X509Certificate(pair.cert).validTo }, 'certificate reloaded');
    for (const listener of this.listeners) {
      try {
        listener(pair);
      } catch (error) {
        logger.error({ err: error }, 'certificate change listener failed');
      }
    }
  }
}

async function readPair(options: { certFile: string; keyFile: string }): Promise<CertificatePair> {
  const [cert, key] = await Promise.all([readFile(options.certFile), readFile(options.keyFile)]);
  return { cert, key };
}

/** Throws unless the certificate parses and the key belongs to it (createSecureContext checks that). */
function loadContext(pair: CertificatePair): SecureContext {
  new X509Certificate(pair.cert);
  return createSecureContext({ cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' });
}

function expiry(cert: Buffer): number {
  return Math.floor(new Date(new X509Certificate(cert).validTo).getTime() / 1000);
}

/**
 * The service's certificate from TLS_CERT_FILE/TLS_KEY_FILE, watched until shutdown; undefined when
 * they are not set (the service then says what it does without TLS).
 */
export async function openCertificateFiles(
  base: Pick<ServiceBase, 'logger' | 'registry' | 'shutdown'>,
  config: { TLS_CERT_FILE?: string | undefined; TLS_KEY_FILE?: string | undefined },
): Promise<CertificateFiles | undefined> {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return undefined;
  const files = await CertificateFiles.open({
    certFile: config.TLS_CERT_FILE,
    keyFile: config.TLS_KEY_FILE,
    logger: base.logger,
    registry: base.registry,
  });
  base.shutdown.register('certificate-watch', () => files.stop());
  return files;
}
