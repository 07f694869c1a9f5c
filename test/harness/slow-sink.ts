// A remote SMTP server on loopback that answers each transaction after a fixed delay, for the
// scale-out test and bench: it records every message by its Message-ID (to count duplicates and
// losses) and the number of sessions open at once (to check per-destination concurrency limits).
import { SMTPServer } from 'smtp-server';

export interface SlowSinkOptions {
  /** Added before the reply to the end of DATA, per transaction. */
  delayMs: number;
  host?: string;
  /** 0: any free port. */
  port?: number;
}

export interface SlowSink {
  port: number;
  /** Message-IDs in the order their transactions completed (a duplicate appears twice). */
  readonly received: readonly string[];
  /** Sessions open now, and the most ever open at once. */
  readonly sessions: { open: number; max: number };
  /** Message-IDs that arrived more than once. */
  duplicates(): string[];
  /** Forgets the counts (between rounds of a bench). */
  reset(): void;
  stop(): Promise<void>;
}

export async function startSlowSink(options: SlowSinkOptions): Promise<SlowSink> {
  const received: string[] = [];
  const sessions = { open: 0, max: 0 };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 50 * 1024 * 1024,
    onConnect(_session, callback) {
      sessions.open++;
      sessions.max = Math.max(sessions.max, sessions.open);
      callback();
    },
    onClose() {
      sessions.open--;
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const head = Buffer.concat(chunks).toString('latin1').split('\r\n\r\n', 1)[0] ?? '';
        const id = /^message-id:\s*(\S+)/im.exec(head)?.[1] ?? '(none)';
        setTimeout(() => {
          received.push(id);
          callback();
        }, options.delayMs);
      });
    },
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    received,
    sessions,
    duplicates() {
      const seen = new Set<string>();
      return received.filter((id) => {
        if (seen.has(id)) return true;
        seen.add(id);
        return false;
      });
    },
    reset() {
      received.length = 0;
      sessions.max = sessions.open;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
