import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from '@hermod/logging';
import type { ReplayableAccept } from '@hermod/spool';
import { SpooledBody } from '@hermod/spool';
import { traceFields } from '@hermod/telemetry';
import { context, trace } from '@opentelemetry/api';
import type { SMTPServerOptions, SMTPServerSession } from 'smtp-server';
import {
  acceptDisposition,
  type BodyScan,
  type Disposition,
  type QuarantineRequest,
  refusalOf,
} from './disposition.js';
import { drainStream } from './drain-stream.js';
import { messageTooBig, receivedProtocol } from './envelope-rules.js';
import type { ObservePhase } from './phase-timing.js';
import {
  BareLineEndingError,
  type HeaderSummary,
  type PreparedMessage,
  prepareMessage,
} from './prepare-message.js';
import type { RecipientRoutes } from './recipient-routes.js';
import type { RecordRefusal } from './refusals.js';
import { sessionReceivedHeader } from './session-received.js';
import { SmtpReplyError, smtpError } from './smtp-reply.js';

const headersOf = (d: Disposition) => ('headers' in d ? (d.headers ?? '') : '');

/** A prefix (fields put first: UTF-8 like the addresses in them, RFC 6532) then a stream, as one stream. */
export async function* withPrefix(prefix: string, source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (prefix) yield Buffer.from(prefix, 'utf8');
  yield* source;
}

/** A message held whole (a policy rule's stripped copy) as a stream. */
export async function* bufferSource(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

/** smtp-server's ESMTP parameters of MAIL or RCPT as plain strings, as the spool stores them. */
export function stringArgs(args: unknown): Record<string, string> {
  if (!args || typeof args !== 'object') return {};
  return Object.fromEntries(Object.entries(args as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/** What the service's verdict step sees once the whole message is read and the body is complete. */
export interface AcceptedBody {
  prepared: PreparedMessage;
  session: SMTPServerSession;
  body: SpooledBody;
  spoolId: string;
  mailFrom: string;
  helo: string;
}

/** What the pipeline uses of a receiving service's dependencies (msa's and mx's are both this). */
export interface AcceptDeps {
  logger: Logger;
  refused: RecordRefusal;
  metrics: {
    messages: { inc(labels: { outcome: string }): void };
    acceptSeconds: { observe(seconds: number): void };
    /** Observes the parts of DATA (receive, check, decide, commit): where a transaction waits. */
    phases?: ObservePhase;
  };
  recipientRoutes: RecipientRoutes;
  /** Makes the message durable (group commit); resolves once committed. */
  accept(input: ReplayableAccept): Promise<void>;
}

/**
 * What differs between msa and mx around the one accept pipeline. Hooks that are synchronous for
 * one service cost no await (the hot path awaits only what returns a promise).
 */
export interface AcceptPipeline<V> {
  /** 'msa' or 'mx': the tracer (hermod.<service>), the span (<service>.accept) and the spool source. */
  service: 'msa' | 'mx';
  deps: AcceptDeps;
  /** Our host name in the Received field put first (with the protocol the session used, RFC 3848). */
  hostname: string;
  maxMessageBytes: number;
  bareLineEndings: 'normalise' | 'reject';
  /** Fields added at the end of the header block once it is known (msa: Message-ID, Date). */
  append?(header: HeaderSummary, spoolId: string, now: Date): string;
  /** Refuses (throws an SmtpReplyError) a message read in full, before its body is completed. */
  check?(prepared: PreparedMessage, session: SMTPServerSession): void | Promise<void>;
  /**
   * Starts a scan that sees the message while it arrives (the malware scanner); its disposition is
   * the first one applied, before decide.
   */
  scan?(session: SMTPServerSession, spoolId: string): BodyScan | undefined;
  /** The verdict on the complete message (mx: the filters); may throw an SmtpReplyError. */
  decide?(message: AcceptedBody): Promise<V>;
  /**
   * Ask decide while the scan's verdict is awaited, instead of after it (mx): the wait for clamd
   * and the service's checks overlap. The scan's disposition still comes first; decide's verdict
   * or refusal is then dropped, but what decide does on the way (counters, DMARC records, the
   * Rspamd request) happens for messages the scan refuses too. msa leaves it off: its verdict
   * reports the account.
   */
  decideWhileScanning?: boolean;
  /** The disposition of the verdict (policy rules, spam): accept, refuse or quarantine. */
  dispose?(verdict: V): Disposition;
  /**
   * Holds a message a disposition quarantines, durably, instead of accepting it for delivery;
   * without it a quarantine disposition refuses the message (554 5.7.1).
   */
  quarantine?(request: QuarantineRequest): Promise<void>;
  /** A mailbox the verdict delivers to instead (a policy rule's folder). */
  folder?(verdict: V): string | undefined;
  /**
   * Recipients the verdict adds (a compliance copy) or puts in place of the envelope's (a
   * redirect). They have no local route yet, so routing decides the whole message.
   */
  recipientChanges?(verdict: V): { add: readonly string[]; replace?: readonly string[] } | undefined;
  /** The account the message is submitted by (msa). */
  accountId?(session: SMTPServerSession): number | undefined;
  /** Adds the service's fields to the stored envelope (after mailFromArgs and tls). */
  addToEnvelope?(envelope: Record<string, unknown>, session: SMTPServerSession, verdict: V | undefined): void;
  /** The stored body from the spooled one (mx: filter headers first, forged results removed). */
  storedBody?(
    source: AsyncIterable<Buffer>,
    verdict: V | undefined,
    prepared: PreparedMessage,
  ): AsyncIterable<Buffer>;
  /** Adds the service's fields to the "accepted" log line. */
  addToLog?(fields: Record<string, unknown>, verdict: V | undefined): void;
  /** Counts a message refused for a bare CR or LF (bareLineEndings 'reject'). */
  onBareLineEnding?(): void;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

const settled = <T>(promise: Promise<T> | undefined): Promise<Settled<T | undefined>> =>
  Promise.resolve(promise).then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

function unsettled<T>(outcome: Settled<T>): T {
  if (outcome.ok) return outcome.value;
  throw outcome.error;
}

/**
 * End of DATA, once for msa and mx: the message streams into a spooled body (trace field first),
 * the size and the service's checks are applied, the service decides, and the message is made
 * durable; only then the 250. Anything not an SMTP refusal becomes 451 4.3.0 (never a guess).
 */
export function acceptPipeline<V>(hooks: AcceptPipeline<V>): NonNullable<SMTPServerOptions['onData']> {
  const tracer = `hermod.${hooks.service}`;
  const spanName = `${hooks.service}.accept`;
  const { deps } = hooks;
  const { metrics, logger } = deps;
  const observe = metrics.phases;
  return (stream, session, callback) => {
    const started = process.hrtime.bigint();
    let mark = observe ? performance.now() : 0;
    const phase = (name: 'receive' | 'check' | 'decide' | 'commit') => {
      if (!observe) return;
      const now = performance.now();
      observe(name, (now - mark) / 1000);
      mark = now;
    };
    const spoolId = randomUUID();
    const body = new SpooledBody(hooks.maxMessageBytes + 64 * 1024);
    const recipients = session.envelope.rcptTo;
    const now = new Date();
    const span = trace.getTracer(tracer).startSpan(spanName, { attributes: { 'hermod.spool_id': spoolId } });
    const done = (error: Error | null, message?: string) => {
      span.end();
      metrics.messages.inc({
        outcome: error ? String((error as SmtpReplyError).responseCode ?? 451) : '250',
      });
      if (!error) metrics.acceptSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      callback(error, message);
    };
    const prepend = sessionReceivedHeader(session, {
      host: hooks.hostname,
      protocol: receivedProtocol(session, !!session.user),
      id: spoolId,
      date: now,
    });
    const append = hooks.append;
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    // smtp-server refuses DATA before HELO/EHLO, whose argument it requires.
    const helo = session.hostNameAppearsAs || 'unknown';
    const scan = hooks.scan?.(session, spoolId);
    // The scan sees each chunk as it is spooled (while the client is still sending).
    const sink = scan
      ? {
          write: (chunk: Buffer) => {
            const scanning = scan.write(chunk);
            return scanning ? scanning.then(() => body.write(chunk)) : body.write(chunk);
          },
        }
      : body;
    context.with(trace.setSpan(context.active(), span), () => {
      prepareMessage(stream as AsyncIterable<Buffer>, sink, {
        bareLineEndings: hooks.bareLineEndings,
        prepend,
        ...(append ? { append: (header: HeaderSummary) => append(header, spoolId, now) } : {}),
      })
        .then(async (prepared) => {
          await drainStream(stream as Readable);
          phase('receive');
          if ((stream as { sizeExceeded?: boolean }).sizeExceeded || body.overLimit) {
            deps.refused(session, 'size', { code: 552 });
            throw messageTooBig(hooks.maxMessageBytes);
          }
          const checked = hooks.check?.(prepared, session);
          if (checked) await checked;
          await body.end();
          const decide = () =>
            hooks.decide ? hooks.decide({ prepared, session, body, spoolId, mailFrom, helo }) : undefined;
          // Started now, it reads the spooled body while clamd scans; settled, so that a refusal
          // the scan makes moot is never an unhandled rejection.
          const early = scan && hooks.decideWhileScanning ? settled(decide()) : undefined;
          const scanned = scan ? await scan.disposition(() => body.source()) : acceptDisposition;
          phase('check');
          let verdict: V | undefined;
          let disposed: Disposition = acceptDisposition;
          if (scanned.action === 'accept') {
            verdict = early ? unsettled(await early) : await decide();
            if (verdict !== undefined && hooks.dispose) disposed = hooks.dispose(verdict);
          }
          phase('decide');
          const final = scanned.action === 'accept' ? disposed : scanned;
          if (final.action === 'reject' || final.action === 'tempfail') throw refusalOf(final);
          // Fields of the dispositions go first, before the service's own (mx: authentication, spam).
          const dispositionHeaders = headersOf(scanned) + headersOf(disposed);
          const folder = verdict !== undefined ? hooks.folder?.(verdict) : undefined;
          const changes = verdict !== undefined ? hooks.recipientChanges?.(verdict) : undefined;
          const envelope: Record<string, unknown> = {
            ...(session.envelope.mailFrom
              ? { mailFromArgs: stringArgs(session.envelope.mailFrom.args) }
              : {}),
            tls: session.secure,
          };
          hooks.addToEnvelope?.(envelope, session, verdict);
          const accountId = hooks.accountId?.(session);
          const serviceBody = hooks.storedBody;
          const storedBody = (source: AsyncIterable<Buffer>, v: V | undefined) =>
            withPrefix(dispositionHeaders, serviceBody ? serviceBody(source, v, prepared) : source);
          if (final.action === 'quarantine') {
            if (!hooks.quarantine)
              throw smtpError(554, '5.7.1', `Message refused: ${final.reason}`, final.kind);
            await hooks.quarantine({
              spoolId,
              mailFrom,
              // Held as it would have been delivered: with the copies earlier rules added (bcc).
              recipients: [...new Set([...recipients.map((r) => r.address), ...(changes?.add ?? [])])],
              source: hooks.service,
              clientAddress: session.remoteAddress,
              clientHelo: helo,
              kind: final.kind,
              reason: final.reason,
              ...(final.rule !== undefined ? { rule: final.rule } : {}),
              envelope,
              body: () => storedBody(body.source(), verdict),
            });
            await body.discard();
            logger.info(
              { sessionId: session.id, spoolId, size: prepared.size, kind: final.kind, reason: final.reason },
              'quarantined',
            );
            done(null, `2.0.0 Ok: queued as ${spoolId}`);
            return;
          }
          // Group commit: small messages share one statement and one WAL flush with concurrent ones;
          // large ones stream from the temporary file. The body can be read again if a batch is retried.
          await deps.accept({
            spoolId,
            mailFrom,
            recipients: [
              ...(changes?.replace
                ? changes.replace.map((address) => ({ address, parameters: {} }))
                : recipients.map((r) => ({
                    address: r.address,
                    parameters: stringArgs(r.args),
                    local: deps.recipientRoutes.destinationOf(r, folder),
                  }))),
              ...(changes?.add ?? []).map((address) => ({ address, parameters: {} })),
            ],
            source: hooks.service,
            ...(accountId !== undefined ? { accountId } : {}),
            clientAddress: session.remoteAddress,
            clientHelo: helo,
            envelope,
            traceContext: { ...traceFields(), sessionId: session.id },
            body:
              serviceBody || dispositionHeaders
                ? () => storedBody(body.source(), verdict)
                : () => body.source(),
          });
          phase('commit');
          await body.discard();
          const fields: Record<string, unknown> = {
            sessionId: session.id,
            spoolId,
            size: prepared.size,
            rcpts: recipients.length,
          };
          hooks.addToLog?.(fields, verdict);
          logger.info(fields, 'accepted');
          done(null, `2.0.0 Ok: queued as ${spoolId}`);
        })
        .catch(async (error: unknown) => {
          scan?.abort();
          await drainStream(stream as Readable);
          await body.discard();
          if (error instanceof SmtpReplyError) {
            // A content check's refusal, counted here once it is the reply: one the scan made moot
            // (decideWhileScanning) never reaches this point.
            if (error.refusalReason)
              deps.refused(session, error.refusalReason, { code: error.responseCode, spoolId });
            done(error);
            return;
          }
          if (error instanceof BareLineEndingError) {
            hooks.onBareLineEnding?.();
            done(
              smtpError(
                550,
                '5.6.0',
                'Message contains a bare CR or LF; only CRLF line endings are accepted',
              ),
            );
            return;
          }
          logger.error(
            { err: error, sessionId: session.id, spoolId },
            'message not accepted: storage failed',
          );
          done(smtpError(451, '4.3.0', 'Temporary local problem, message not accepted; try again later'));
        });
    });
  };
}
