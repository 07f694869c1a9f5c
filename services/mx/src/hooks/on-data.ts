import { acceptDisposition, acceptPipeline, bufferSource, smtpError, withPrefix } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';
import { stripForgedResults } from '../message/strip-forged-results.js';
import { type FilterVerdict, filterMessage } from './filter-message.js';

/**
 * End of DATA through the shared accept pipeline (@hermod/smtp): bare line endings refused or
 * fixed, loops refused, malware scanned while the message arrives (refused or quarantined), the
 * filters (SPF/DKIM/DMARC/ARC, Rspamd, policy rules) decide placement and the fields put first, a
 * policy rule's quarantine holds the message, and forged Authentication-Results of our host are
 * removed.
 */
export function onData(deps: MxDeps): NonNullable<SMTPServerOptions['onData']> {
  const { config } = deps;
  return acceptPipeline<FilterVerdict>({
    service: 'mx',
    deps,
    hostname: config.MX_HOSTNAME,
    maxMessageBytes: config.MX_MAX_MESSAGE_BYTES,
    bareLineEndings: config.MX_BARE_LINE_ENDINGS,
    check: (prepared) => {
      if (prepared.receivedCount >= config.MX_MAX_RECEIVED) {
        deps.metrics.rejections.inc({ reason: 'loop' });
        throw smtpError(
          554,
          '5.4.6',
          `Too many hops (${prepared.receivedCount} Received fields): mail loop?`,
        );
      }
    },
    ...(deps.scanMalware ? { scan: deps.scanMalware } : {}),
    // The filters run while clamd's verdict is awaited (docs/performance.md, the filtering gateway).
    decideWhileScanning: true,
    quarantine: (request) => deps.quarantine(request),
    decide: ({ prepared, session, body, spoolId, mailFrom, helo }) =>
      filterMessage(deps, {
        message: () => body.source(),
        fieldNames: prepared.names,
        ...(prepared.headerComplete ? { from: prepared.values.get('from') ?? [] } : {}),
        ip: session.remoteAddress,
        helo,
        mailFrom,
        recipients: session.envelope.rcptTo.map((r) => r.address),
        spoolId,
      }),
    dispose: (verdict) =>
      verdict.quarantine
        ? {
            action: 'quarantine',
            kind: 'policy',
            reason: verdict.quarantine.reason,
            rule: verdict.quarantine.rule,
          }
        : acceptDisposition,
    folder: (verdict) => verdict.folder,
    recipientChanges: (verdict) => verdict.recipients,
    addToEnvelope: (envelope, _session, verdict) => {
      if (!verdict) return;
      envelope.placement = verdict.placement;
      if (verdict.folder) envelope.folder = verdict.folder;
      if (verdict.spamStatus !== undefined) envelope.spamStatus = verdict.spamStatus;
      if (verdict.reasons.length > 0) envelope.filterReasons = verdict.reasons;
    },
    storedBody: (source, verdict, prepared) => {
      const body = verdict?.stripped ? bufferSource(verdict.stripped) : source;
      // A header inspected whole without an Authentication-Results field has none to remove.
      const mayCarryResults = !prepared.headerComplete || prepared.names.has('authentication-results');
      return withPrefix(
        verdict?.headers ?? '',
        mayCarryResults ? stripForgedResults(body, config.MX_HOSTNAME) : body,
      );
    },
    addToLog: (fields, verdict) => {
      fields.placement = verdict?.placement;
    },
    onBareLineEnding: () => deps.metrics.rejections.inc({ reason: 'bare-line-ending' }),
  });
}
