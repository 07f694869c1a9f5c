import { performance } from 'node:perf_hooks';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';

/**
 * Where an SMTP transaction spends its time, as seen by the server:
 * - `client`: from one of our replies (MAIL, RCPT, end of DATA) to the next command reaching its
 *   hook: the network, the client, and the server's own event loop being busy with others;
 * - `mail`, `rcpt`: the hook's own work until its reply (account checks, routing's answer);
 * - `data`: from the DATA command to the reply after the final dot (the 354 round trip and the body
 *   included); the accept pipeline splits it further (`receive`, `check`, `decide`, `commit`).
 */
export type SmtpPhase =
  | 'client'
  | 'mail'
  | 'rcpt'
  | 'data'
  | 'receive'
  | 'check'
  | 'decide'
  | 'commit'
  | 'commit-queue'
  | 'commit-write';

/** The options of hermod_<service>_phase_seconds (a prom-client Histogram msa and mx build in main.ts). */
export function phaseHistogramOptions(service: 'msa' | 'mx') {
  return {
    name: `hermod_${service}_phase_seconds`,
    help: 'Where an SMTP transaction waits: client turnaround, MAIL, RCPT, DATA and its parts (receive, check, decide, commit; commit-queue and commit-write from the accept batcher)',
    labelNames: ['phase'] as const,
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
  };
}

export type ObservePhase = (phase: SmtpPhase, seconds: number) => void;

const seconds = (since: number) => (performance.now() - since) / 1000;

/**
 * Wraps the MAIL, RCPT and DATA hooks so that each reply's wait and the client's turnaround are
 * observed (a histogram per phase). The hooks themselves are unchanged.
 */
export function timeSmtpHooks(
  hooks: Pick<SMTPServerOptions, 'onMailFrom' | 'onRcptTo' | 'onData'>,
  observe: ObservePhase,
): Pick<SMTPServerOptions, 'onMailFrom' | 'onRcptTo' | 'onData'> {
  // The time of our last reply in each session (smtp-server keeps one session object per connection).
  const replied = new WeakMap<SMTPServerSession, number>();
  const timed = <A, C extends (...args: never[]) => void>(
    phase: SmtpPhase,
    hook: ((arg: A, session: SMTPServerSession, callback: C) => void) | undefined,
  ) =>
    hook &&
    ((arg: A, session: SMTPServerSession, callback: C) => {
      const started = performance.now();
      const last = replied.get(session);
      if (last !== undefined) observe('client', (started - last) / 1000);
      hook(arg, session, ((...args: never[]) => {
        observe(phase, seconds(started));
        replied.set(session, performance.now());
        callback(...args);
      }) as C);
    });
  return {
    onMailFrom: timed('mail', hooks.onMailFrom),
    onRcptTo: timed('rcpt', hooks.onRcptTo),
    onData: timed('data', hooks.onData),
  };
}

/**
 * An ObservePhase over a histogram labelled by phase (prom-client's), with one child per phase
 * looked up once: observing is then a bucket search, not a label lookup per call.
 */
export function phaseObserver(histogram: {
  labels(labels: { phase: SmtpPhase }): { observe(seconds: number): void };
}): ObservePhase {
  const children = new Map<SmtpPhase, { observe(seconds: number): void }>();
  return (phase, value) => {
    let child = children.get(phase);
    if (!child) {
      child = histogram.labels({ phase });
      children.set(phase, child);
    }
    child.observe(value);
  };
}

/** The accept batcher's onWrite as phases: each message's wait for a write, and each write. */
export function commitPhases(observe: ObservePhase): (waited: number[], writeSeconds: number) => void {
  return (waited, writeSeconds) => {
    for (const seconds of waited) observe('commit-queue', seconds);
    observe('commit-write', writeSeconds);
  };
}
