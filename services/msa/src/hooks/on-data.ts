import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parseAddress } from '@hermod/address';
import {
  headerAddresses,
  messageTooBig,
  prepareMessage,
  receivedHeader,
  receivedProtocol,
  rfc5322Date,
  SmtpReplyError,
  smtpError,
} from '@hermod/smtp';
import { SpooledBody } from '@hermod/spool';
import { traceFields } from '@hermod/telemetry';
import { context, trace } from '@opentelemetry/api';
import type { SMTPServerOptions } from 'smtp-server';
import type { MsaDeps } from '../deps.js';
import type { SessionUser } from '../session-user.js';

/** Reads whatever is left of the DATA stream, so smtp-server can send our reply and go on. */
function drain(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded) resolve();
    else {
      stream.on('end', resolve);
      stream.on('error', () => resolve());
      stream.resume();
    }
  });
}

async function checkFromHeader(
  deps: MsaDeps,
  user: SessionUser | undefined,
  from: string[] | undefined,
): Promise<void> {
  if (!user) return;
  const addresses = (from ?? []).flatMap(headerAddresses);
  for (const address of addresses) {
    let canonical: string;
    try {
      canonical = parseAddress(address).canonical;
    } catch {
      throw smtpError(553, '5.7.1', `From header address <${address}> is not valid`);
    }
    if (!(await deps.accounts.ownsAddress(user.accountId, canonical)))
      throw smtpError(553, '5.7.1', `From header address <${canonical}> not owned by user ${user.address}`);
  }
}

/**
 * End of DATA: the message is prepared while it streams in (Received first; Message-ID and Date when
 * missing), checked, made durable in the spool, and only then answered with 250.
 */
export function onData(deps: MsaDeps): NonNullable<SMTPServerOptions['onData']> {
  return (stream, session, callback) => {
    const started = process.hrtime.bigint();
    const spoolId = randomUUID();
    const user = session.user as SessionUser | undefined;
    const body = new SpooledBody(deps.config.MSA_MAX_MESSAGE_BYTES + 64 * 1024);
    const recipients = session.envelope.rcptTo;
    const now = new Date();
    const span = trace
      .getTracer('hermod.msa')
      .startSpan('msa.accept', { attributes: { 'hermod.spool_id': spoolId } });
    const done = (error: Error | null, message?: string) => {
      span.end();
      deps.metrics.messages.inc({
        outcome: error ? String((error as SmtpReplyError).responseCode ?? 451) : '250',
      });
      if (!error) deps.metrics.acceptSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      callback(error, message);
    };
    const prepend = receivedHeader({
      helo: session.hostNameAppearsAs ?? 'unknown',
      clientAddress: session.remoteAddress,
      ...(session.clientHostname && !session.clientHostname.startsWith('[')
        ? { clientHostname: session.clientHostname }
        : {}),
      byHost: deps.config.MSA_HOSTNAME,
      protocol: receivedProtocol(session, !!user),
      id: spoolId,
      ...(recipients.length === 1 && recipients[0] ? { recipient: recipients[0].address } : {}),
      date: now,
    });
    context.with(trace.setSpan(context.active(), span), () => {
      prepareMessage(stream as AsyncIterable<Buffer>, body, {
        bareLineEndings: 'normalise',
        prepend,
        append: (header) =>
          (header.names.has('message-id') ? '' : `Message-ID: <${spoolId}@${deps.config.MSA_HOSTNAME}>\r\n`) +
          (header.names.has('date') ? '' : `Date: ${rfc5322Date(now)}\r\n`),
      })
        .then(async (prepared) => {
          await drain(stream);
          if ((stream as { sizeExceeded?: boolean }).sizeExceeded || body.overLimit) {
            deps.refused(session, 'size', { code: 552 });
            throw messageTooBig(deps.config.MSA_MAX_MESSAGE_BYTES);
          }
          await checkFromHeader(deps, user, prepared.values.get('from'));
          await body.end();
          const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
          const accepted = {
            spoolId,
            mailFrom,
            recipients: recipients.map((r) => ({
              address: r.address,
              parameters: stringArgs(r.args),
              local: deps.recipientRoutes.destinationOf(r, false),
            })),
            source: 'msa' as const,
            ...(user ? { accountId: user.accountId } : {}),
            clientAddress: session.remoteAddress,
            clientHelo: session.hostNameAppearsAs ?? '',
            envelope: {
              ...(session.envelope.mailFrom
                ? { mailFromArgs: stringArgs(session.envelope.mailFrom.args) }
                : {}),
              tls: session.secure,
              ...(user ? { authenticatedAs: user.address } : {}),
            },
            traceContext: { ...traceFields(), sessionId: session.id },
          };
          // Group commit: small messages share one statement and one WAL flush with concurrent ones;
          // large ones stream from the temporary file. The body can be read again if a batch is retried.
          await deps.accept({ ...accepted, body: () => body.source() });
          await body.discard();
          deps.logger.info(
            { sessionId: session.id, spoolId, size: prepared.size, rcpts: recipients.length },
            'accepted',
          );
          done(null, `2.0.0 Ok: queued as ${spoolId}`);
        })
        .catch(async (error: unknown) => {
          await drain(stream);
          await body.discard();
          if (error instanceof SmtpReplyError) {
            done(error);
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

function stringArgs(args: unknown): Record<string, string> {
  if (!args || typeof args !== 'object') return {};
  return Object.fromEntries(Object.entries(args as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}
