import { X509Certificate } from 'node:crypto';
import { type FSWatcher, watch } from 'node:fs';
import { readdir, readFile, realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
  /**
   * Per-host certificates: subfolders `<hostname>/tls.crt|tls.key` (a `*.example` folder for a
   * one-label wildcard), chosen by the client's server name (SNI); the default pair serves others.
   */
  sniDir?: string | undefined;
  /** Most host folders loaded from sniDir; more are logged and skipped. */
  sniMaxHosts?: number;
}

/** Options for a server-side TLSSocket or tls/smtp server: the default context and SNI selection. */
export interface ServerTls {
  readonly secureContext: SecureContext;
  readonly SNICallback?: (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void;
}

interface CertificateMetrics {
  reloads: Counter<'result' | 'host'>;
  notAfter: Gauge<'host'>;
}

const DEFAULT_HOST = 'default';

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
  /** Per-host certificates from sniDir by lower-case host name (`*.example` for a wildcard). */
  private readonly hosts = new Map<string, CertificateFiles>();

  private constructor(
    private readonly options: CertificateFilesOptions,
    pair: CertificatePair,
    private readonly metrics: CertificateMetrics,
    private readonly host: string,
  ) {
    this.current = { pair, context: loadContext(pair) };
    this.metrics.notAfter.set({ host }, expiry(pair.cert));
  }

  /**
   * Reads the pair (failing if it does not load) and starts watching its directories; then the
   * per-host pairs of sniDir, each watched and reloaded the same way (one that does not load is
   * logged and skipped).
   */
  static async open(options: CertificateFilesOptions): Promise<CertificateFiles> {
    const metrics: CertificateMetrics = {
      reloads: new Counter({
        name: 'hermod_tls_certificate_reloads_total',
        help: 'Certificate reloads by host (default: TLS_CERT_FILE/TLS_KEY_FILE, else a TLS_SNI_DIR host) and result (reloaded, refused)',
        labelNames: ['result', 'host'],
        registers: [options.registry],
      }),
      notAfter: new Gauge({
        name: 'hermod_tls_certificate_not_after_seconds',
        help: 'Expiry (Unix time) of the certificate in service by host (default, or a TLS_SNI_DIR host)',
        labelNames: ['host'],
        registers: [options.registry],
      }),
    };
    const files = new CertificateFiles(options, await readPair(options), metrics, DEFAULT_HOST);
    await files.watchDirectories();
    if (options.sniDir) await files.openHosts(options.sniDir, metrics);
    return files;
  }

  private async openHosts(sniDir: string, metrics: CertificateMetrics): Promise<void> {
    const { logger } = this.options;
    const max = this.options.sniMaxHosts ?? 100;
    let names: string[];
    try {
      names = (await readdir(sniDir)).filter((name) => !name.startsWith('.')).sort();
    } catch (error) {
      logger.error(
        { err: error, sniDir },
        'TLS_SNI_DIR not readable; only the default certificate is served',
      );
      return;
    }
    for (const name of names) {
      const host = name.toLowerCase();
      if (this.hosts.size >= max) {
        logger.warn({ host, max }, 'more host certificates than TLS_SNI_MAX_HOSTS; the rest are skipped');
        break;
      }
      const options = {
        ...this.options,
        sniDir: undefined,
        certFile: join(sniDir, name, 'tls.crt'),
        keyFile: join(sniDir, name, 'tls.key'),
      };
      try {
        const files = new CertificateFiles(options, await readPair(options), metrics, host);
        await files.watchDirectories();
        this.hosts.set(host, files);
      } catch (error) {
        logger.warn({ err: error, host }, 'host certificate not loaded; skipped');
      }
    }
    logger.info({ hosts: [...this.hosts.keys()] }, 'host certificates loaded');
  }

  get context(): SecureContext {
    return this.current.context;
  }

  /**
   * The context for a client's server name: the host's own certificate, else a one-label wildcard
   * (`*.example` for `mail.example`), else the default.
   */
  contextFor(servername: string | undefined): SecureContext {
    if (!servername || this.hosts.size === 0) return this.context;
    const name = servername.toLowerCase().replace(/\.$/, '');
    const exact = this.hosts.get(name);
    if (exact) return exact.context;
    const dot = name.indexOf('.');
    const wildcard = dot > 0 ? this.hosts.get(`*${name.slice(dot)}`) : undefined;
    return wildcard ? wildcard.context : this.context;
  }

  /** For a server-side TLSSocket, a tls server or smtp-server: the default context plus SNI selection. */
  get serverTls(): ServerTls {
    return {
      secureContext: this.context,
      SNICallback: (servername, cb) => cb(null, this.contextFor(servername)),
    };
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
    for (const files of this.hosts.values()) files.stop();
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
      this.metrics.reloads.inc({ result: 'refused', host: this.host });
      logger.error(
        { err: error, host: this.host },
        'new certificate refused; the previous one stays in service',
      );
      return;
    }
    this.current = { pair, context };
    this.metrics.reloads.inc({ result: 'reloaded', host: this.host });
    this.metrics.notAfter.set({ host: this.host }, expiry(pair.cert));
    logger.info(
      { host: this.host, notAfter: new X509Certificate(pair.cert).validTo },
      'certificate reloaded',
    );
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
  config: {
    TLS_CERT_FILE?: string | undefined;
    TLS_KEY_FILE?: string | undefined;
    TLS_SNI_DIR?: string | undefined;
    TLS_SNI_MAX_HOSTS?: number | undefined;
  },
): Promise<CertificateFiles | undefined> {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return undefined;
  const files = await CertificateFiles.open({
    certFile: config.TLS_CERT_FILE,
    keyFile: config.TLS_KEY_FILE,
    logger: base.logger,
    registry: base.registry,
    sniDir: config.TLS_SNI_DIR,
    ...(config.TLS_SNI_MAX_HOSTS ? { sniMaxHosts: config.TLS_SNI_MAX_HOSTS } : {}),
  });
  base.shutdown.register('certificate-watch', () => files.stop());
  return files;
}
