import { isIP, connect as netConnect, type Socket } from 'node:net';
import type { Logger } from '@hermod/logging';
import { LRUCache } from 'lru-cache';
import type { RelayHost } from './route-recipient.js';

/** What the primary said about a recipient: accepted (2xx), rejected (5xx), or no answer (4xx, down). */
export type CalloutVerdict = 'accepted' | 'rejected' | 'unknown';

export interface BackupCalloutDeps {
  resolver: {
    resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
    resolve4(name: string): Promise<string[]>;
  };
  /** Our own MX names: never called out to (that would be asking ourselves). */
  ourNames: string[];
  /** Port of MX hosts from DNS (25; tests use a loopback port). */
  port: number;
  heloName: string;
  /** Budget for the whole dialogue with all hosts (kept below the MX's routing timeout). */
  timeoutMs: number;
  /** How long an accepted or rejected verdict is reused. */
  cacheMs: number;
  logger: Logger;
  connect?: (port: number, host: string) => Socket;
  now?: () => number;
}

const norm = (host: string) => host.toLowerCase().replace(/\.$/, '');
const MAX_CACHED = 10_000;

/**
 * Recipient verification for backup domains without a recipient list: asks the primary exchanger
 * at RCPT time (EHLO, MAIL FROM:<>, RCPT TO, QUIT; no message is sent) so that a user the primary
 * does not know is refused by us too, instead of accepted, held and bounced later (backscatter).
 * A primary that is down or answers 4xx gives 'unknown': holding mail while it is down is what a
 * backup MX is for.
 */
export class BackupCallout {
  private readonly cache: LRUCache<string, CalloutVerdict>;

  constructor(private readonly deps: BackupCalloutDeps) {
    this.cache = new LRUCache({
      max: MAX_CACHED,
      ttl: Math.max(1, deps.cacheMs),
      ttlResolution: 0,
      perf: { now: deps.now ?? Date.now },
    });
  }

  async verify(domain: string, address: string, relayHosts: RelayHost[]): Promise<CalloutVerdict> {
    const now = this.deps.now ?? Date.now;
    const key = `${domain}\u0000${address}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const deadline = now() + this.deps.timeoutMs;
    let verdict: CalloutVerdict = 'unknown';
    try {
      for (const host of await this.hosts(domain, relayHosts)) {
        const left = deadline - now();
        if (left <= 0) break;
        const reply = await this.ask(host, address, left).catch((error: unknown) => {
          this.deps.logger.debug({ err: error, domain, host: host.host }, 'callout: no answer');
          return undefined;
        });
        if (reply === undefined) continue;
        verdict = reply.startsWith('2') ? 'accepted' : reply.startsWith('5') ? 'rejected' : 'unknown';
        this.deps.logger.debug({ domain, address, host: host.host, reply, verdict }, 'callout answered');
        break;
      }
    } catch (error) {
      this.deps.logger.warn({ err: error, domain }, 'callout: primary hosts not resolved');
    }
    if (verdict !== 'unknown' && this.deps.cacheMs > 0) this.cache.set(key, verdict);
    return verdict;
  }

  /** The primary's hosts: configured ones, else the domain's MX records without our own names. */
  private async hosts(
    domain: string,
    relayHosts: RelayHost[],
  ): Promise<Array<{ host: string; port: number }>> {
    const ours = new Set(this.deps.ourNames.map(norm));
    const named =
      relayHosts.length > 0
        ? [...relayHosts]
            .sort((a, b) => a.preference - b.preference)
            .map((h) => ({ host: h.host, port: h.port }))
        : (await this.deps.resolver.resolveMx(domain))
            .sort((a, b) => a.priority - b.priority)
            .map((r) => ({ host: norm(r.exchange), port: this.deps.port }))
            .filter((h) => h.host !== '' && !ours.has(h.host));
    const out: Array<{ host: string; port: number }> = [];
    for (const h of named) {
      const literal = h.host.replace(/^\[|\]$/g, '');
      if (isIP(literal)) out.push({ host: literal, port: h.port });
      else
        for (const address of await this.deps.resolver.resolve4(h.host).catch(() => [] as string[]))
          out.push({ host: address, port: h.port });
    }
    return out;
  }

  /** One SMTP dialogue; resolves with the reply to RCPT TO (or the first non-success reply before it). */
  private ask(target: { host: string; port: number }, address: string, timeoutMs: number): Promise<string> {
    const socket = (this.deps.connect ?? ((port, host) => netConnect({ port, host })))(
      target.port,
      target.host,
    );
    return new Promise<string>((resolve, reject) => {
      const steps = [
        { send: undefined as string | undefined, expect: '2' },
        { send: `EHLO ${this.deps.heloName}`, expect: '2' },
        { send: 'MAIL FROM:<>', expect: '2' },
        { send: `RCPT TO:<${address}>`, expect: '' },
      ];
      let step = 0;
      let buffer = '';
      const finish = (error: Error | undefined, reply?: string) => {
        clearTimeout(timer);
        socket.removeAllListeners('data');
        if (!socket.destroyed) socket.end('QUIT\r\n');
        socket.destroy();
        if (error) reject(error);
        else resolve(reply ?? '');
      };
      const timer = setTimeout(() => finish(new Error('callout timed out')), timeoutMs);
      socket.setEncoding('latin1');
      socket.on('error', (error) => finish(error));
      socket.on('close', () => finish(new Error('connection closed')));
      socket.on('data', (chunk: string) => {
        buffer += chunk;
        if (buffer.length > 64 * 1024) return finish(new Error('reply too long'));
        // A complete reply ends with a line "ddd text" (no dash after the code).
        for (;;) {
          const match = /(?:^|\r?\n)(\d{3}) [^\n]*\r?\n/.exec(buffer);
          if (!match) return;
          const reply = buffer.slice(0, match.index + match[0].length).trim();
          buffer = buffer.slice(match.index + match[0].length);
          const current = steps[step];
          if (!current) return;
          if (current.expect && !reply.startsWith(current.expect)) return finish(undefined, reply);
          if (step === steps.length - 1) return finish(undefined, reply.split(/\r?\n/).pop() ?? reply);
          step += 1;
          socket.write(`${steps[step]?.send}\r\n`);
        }
      });
    });
  }
}
