import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  BareLineEndingError,
  drainStream,
  messageTooBig,
  prepareMessage,
  receivedProtocol,
  SmtpReplyError,
  sessionReceivedHeader,
  smtpError,
} from '@hermod/smtp';
import { SpooledBody } from '@hermod/spool';
import { traceFields } from '@hermod/telemetry';
import { context, trace } from '@opentelemetry/api';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';
import { stripForgedResults, withPrefix } from '../message/strip-forged-results.js';
import { type FilterVerdict, filterMessage } from './filter-message.js';

function stringArgs(args: unknown): Record<string, string> {
  if (!args || typeof args !== 'object') return {};
  return Object.fromEntries(Object.entries(args as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/**
 * End of DATA: the message streams into a spooled body (Received first, bare line endings refused
 * or fixed), loops and size are checked, the filters (SPF/DKIM/DMARC/ARC, Rspamd) decide, and the
 * message is made durable in PostgreSQL; only then the 250.
 */
export function onData(deps: MxDeps): NonNullable<SMTPServerOptions['onData']> {
  const { config } = deps;
  return (stream, session, callback) => {
    const started = process.hrtime.bigint();
    const spoolId = randomUUID();
    const body = new SpooledBody(config.MX_MAX_MESSAGE_BYTES + 64 * 1024);
    const recipients = session.envelope.rcptTo;
    const span = trace
      .getTracer('hermod.mx')
      .startSpan('mx.accept', { attributes: { 'hermod.spool_id': spoolId } });
    const done = (error: Error | null, message?: string) => {
      span.end();
      deps.metrics.messages.inc({
        outcome: error ? String((error as SmtpReplyError).responseCode ?? 451) : '250',
      });
      if (!error) deps.metrics.acceptSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      callback(error, message);
    };
    const helo = session.hostNameAppearsAs || 'unknown';
    const prepend = sessionReceivedHeader(session, {
      host: config.MX_HOSTNAME,
      protocol: receivedProtocol(session, false),
      id: spoolId,
      date: new Date(),
    });
    const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
    context.with(trace.setSpan(context.active(), span), () => {
      prepareMessage(stream as AsyncIterable<Buffer>, body, {
        bareLineEndings: config.MX_BARE_LINE_ENDINGS,
        prepend,
      })
        .then(async (prepared) => {
          await drainStream(stream as Readable);
          if ((stream as { sizeExceeded?: boolean }).sizeExceeded || body.overLimit) {
            deps.refused(session, 'size', { code: 552 });
            throw messageTooBig(config.MX_MAX_MESSAGE_BYTES);
          }
          if (prepared.receivedCount >= config.MX_MAX_RECEIVED) {
            deps.metrics.rejections.inc({ reason: 'loop' });
            throw smtpError(
              554,
              '5.4.6',
              `Too many hops (${prepared.receivedCount} Received fields): mail loop?`,
            );
          }
          await body.end();
          const verdict: FilterVerdict = await filterMessage(deps, {
            message: () => body.source(),
            fieldNames: prepared.names,
            ip: session.remoteAddress,
            helo,
            mailFrom,
            recipients: recipients.map((r) => r.address),
            spoolId,
          });
          await deps.accept({
            spoolId,
            mailFrom,
            recipients: recipients.map((r) => ({
              address: r.address,
              parameters: stringArgs(r.args),
              local: deps.recipientRoutes.destinationOf(r, verdict.placement === 'junk'),
            })),
            source: 'mx',
            clientAddress: session.remoteAddress,
            clientHelo: helo,
            envelope: {
              ...(session.envelope.mailFrom
                ? { mailFromArgs: stringArgs(session.envelope.mailFrom.args) }
                : {}),
              tls: session.secure,
              placement: verdict.placement,
              ...(verdict.reasons.length > 0 ? { filterReasons: verdict.reasons } : {}),
            },
            traceContext: { ...traceFields(), sessionId: session.id },
            body: () => withPrefix(verdict.headers, stripForgedResults(body.source(), config.MX_HOSTNAME)),
          });
          await body.discard();
          deps.logger.info(
            {
              sessionId: session.id,
              spoolId,
              size: prepared.size,
              rcpts: recipients.length,
              placement: verdict.placement,
            },
            'accepted',
          );
          done(null, `2.0.0 Ok: queued as ${spoolId}`);
        })
        .catch(async (error: unknown) => {
          await drainStream(stream as Readable);
          await body.discard();
          if (error instanceof SmtpReplyError) {
            done(error);
            return;
          }
          if (error instanceof BareLineEndingError) {
            deps.metrics.rejections.inc({ reason: 'bare-line-ending' });
            done(
              smtpError(
                550,
                '5.6.0',
                'Message contains a bare CR or LF; only CRLF line endings are accepted',
              ),
            );
            return;
          }
          deps.logger.error(
            { err: error, sessionId: session.id, spoolId },
            'message not accepted: storage failed',
          );
          done(smtpError(451, '4.3.0', 'Temporary local problem, message not accepted; try again later'));
        });
    });
  };
}
