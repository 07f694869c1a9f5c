import { run } from '@hermod/test/harness';

export interface LoadResult {
  messages: number;
  seconds: number;
  perSecond: number;
}

/** Closed-loop SMTP load with Postfix's smtp-source: `sessions` parallel, connections reused (-d). */
export async function smtpSource(options: {
  port: number;
  messages: number;
  sessions: number;
  /** The size of smtp-source's own message; without `file` only. */
  bytes?: number;
  from: string;
  to: string;
  reuseConnections?: boolean;
  /** A message (header and body, LF line ends) to send instead of smtp-source's own of `bytes`. */
  file?: string;
}): Promise<LoadResult> {
  const started = process.hrtime.bigint();
  const result = await run(
    'smtp-source',
    [
      '-s',
      String(options.sessions),
      '-m',
      String(options.messages),
      ...(options.file ? ['-F', options.file] : ['-l', String(options.bytes)]),
      ...(options.reuseConnections === false ? [] : ['-d']),
      '-f',
      options.from,
      '-t',
      options.to,
      `127.0.0.1:${options.port}`,
    ],
    { timeoutMs: 600_000 },
  );
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.code !== 0) throw new Error(`smtp-source failed (${result.code}): ${result.stderr}`);
  return { messages: options.messages, seconds, perSecond: options.messages / seconds };
}

/** Waits until count() reaches target; returns the seconds it took from `since`. */
export async function waitUntil(
  count: () => Promise<number>,
  target: number,
  since: bigint,
  timeoutMs = 600_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while ((await count()) < target) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${target} (have ${await count()})`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Number(process.hrtime.bigint() - since) / 1e9;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
