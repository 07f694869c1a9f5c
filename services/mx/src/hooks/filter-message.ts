import { RspamdUnavailableError, type RspamdVerdict } from '@hermod/content-scan';
import { applyPolicyRules, smtpError } from '@hermod/smtp';
import type { MxDeps } from '../deps.js';
import { type AuthenticationOutcome, authenticateMessage } from '../policy/authentication.js';

export interface FilterInput {
  /** The message as stored so far (our Received first); may be read more than once. */
  message: () => AsyncIterable<Buffer>;
  /** Lower-cased names of the message's header fields. */
  fieldNames: ReadonlySet<string>;
  /** The unfolded From values when the whole header block was inspected (see authenticateMessage). */
  from?: readonly string[];
  ip: string;
  helo: string;
  mailFrom: string;
  recipients: string[];
  spoolId: string;
}

export interface FilterVerdict {
  /** Fields to prepend to the stored message (Authentication-Results, X-Spam-*), CRLF-terminated. */
  headers: string;
  placement: 'inbox' | 'junk';
  reasons: string[];
  /** A policy rule's folder: wins over the placement. */
  folder?: string;
  /** Recipients the policy rules add (bcc) or put in place of the envelope's (redirect). */
  recipients?: { add: string[]; replace?: string[] };
  /** The message with attachments removed by a policy rule, stored instead of the received one. */
  stripped?: Buffer;
  /** A policy rule holds the message in the quarantine (@hermod/quarantine) instead of delivering it. */
  quarantine?: { rule: string; reason: string };
  /**
   * The value of the X-Spam-Status field in `headers` (the first of the stored message), when one
   * was added: kept in the spool envelope too, so that delivery's spamtest needs no header section.
   */
  spamStatus?: string;
}

const clean = (s: string) => s.replace(/[^\x20-\x7e]/g, '').slice(0, 900);

/**
 * The filtering gateway's decision for one message: authentication (DMARC policy enforced when
 * configured), then Rspamd, then the policy rules (which see both verdicts). Throws the SMTP reply
 * for a refusal; otherwise says what to add, where the message belongs (Junk for DMARC quarantine
 * or spam, a rule's folder), which recipients change, and whether a rule holds it in quarantine.
 */
export async function filterMessage(deps: MxDeps, input: FilterInput): Promise<FilterVerdict> {
  const { config, logger } = deps;
  const reasons: string[] = [];
  let headers = '';
  let placement: FilterVerdict['placement'] = 'inbox';
  let authResults: { spf: string; dkim: string[]; dmarc: string } | undefined;
  let spamScore: number | undefined;
  let spamStatus: string | undefined;

  if (config.MX_AUTH_CHECKS) {
    let auth: AuthenticationOutcome | undefined;
    try {
      auth = await authenticateMessage(
        {
          message: input.message(),
          fieldNames: input.fieldNames,
          ...(input.from ? { from: input.from } : {}),
          ip: input.ip,
          helo: input.helo,
          mailFrom: input.mailFrom,
          authservId: config.MX_HOSTNAME,
        },
        deps.resolve,
      );
    } catch (error) {
      // A verifier bug must not stop mail; the message simply carries no results.
      logger.warn({ err: error, spoolId: input.spoolId }, 'authentication checks failed');
    }
    if (auth) {
      authResults = { spf: auth.spf, dkim: auth.dkim, dmarc: auth.dmarc };
      headers += auth.headers;
      if (auth.dmarcEvaluation) {
        const disposition = config.MX_DMARC_ENFORCE ? auth.dmarcPolicy : 'none';
        deps.dmarcRecorder?.add({ ...auth.dmarcEvaluation, disposition });
      }
      if (config.MX_DMARC_ENFORCE && auth.dmarcPolicy === 'reject') {
        throw smtpError(
          550,
          '5.7.1',
          `Message rejected by the DMARC policy of ${auth.dmarcDomain ?? 'the sender domain'}`,
          'dmarc',
        );
      }
      if (config.MX_DMARC_ENFORCE && auth.dmarcPolicy === 'quarantine') {
        placement = 'junk';
        reasons.push(`dmarc=fail (p=quarantine) for ${auth.dmarcDomain ?? '?'}`);
      }
    }
  }

  if (deps.rspamd) {
    let verdict: RspamdVerdict | undefined;
    try {
      verdict = await deps.rspamd.scan({
        ip: input.ip,
        helo: input.helo,
        mailFrom: input.mailFrom,
        recipients: input.recipients,
        hostname: config.MX_HOSTNAME,
        queueId: input.spoolId,
        message: input.message(),
      });
    } catch (error) {
      if (!(error instanceof RspamdUnavailableError)) throw error;
      logger.warn({ err: error, spoolId: input.spoolId }, 'rspamd unavailable');
      if (config.RSPAMD_FAIL_MODE === 'tempfail') {
        throw smtpError(451, '4.7.1', 'Content scanner unavailable, try again later', 'rspamd-unavailable');
      }
      spamStatus = 'unscored (scanner unavailable)';
      headers += `X-Spam-Status: ${spamStatus}\r\n`;
    }
    if (verdict) {
      spamScore = verdict.score;
      const spam = verdict.action !== 'no action';
      spamStatus = `${spam ? 'Yes' : 'No'}, score=${verdict.score.toFixed(2)} required=${verdict.requiredScore.toFixed(2)}`;
      headers +=
        `X-Spam-Status: ${spamStatus}\r\n` +
        `X-Spam-Action: ${verdict.action}\r\n` +
        (verdict.symbols.length > 0 ? `X-Spam-Symbols: ${clean(verdict.symbols.join(', '))}\r\n` : '');
      switch (verdict.action) {
        case 'reject':
          throw smtpError(
            550,
            '5.7.1',
            `Message rejected as spam (score ${verdict.score.toFixed(1)})`,
            'spam',
          );
        case 'soft reject':
        case 'greylist':
          throw smtpError(451, '4.7.1', 'Try again later (greylisted)', 'greylist');
        case 'add header':
        case 'rewrite subject':
          placement = 'junk';
          reasons.push(`rspamd ${verdict.action} score=${verdict.score.toFixed(2)}`);
          break;
        case 'no action':
          break;
      }
    }
  }
  if (!deps.policy)
    return { headers, placement, reasons, ...(spamStatus !== undefined ? { spamStatus } : {}) };
  const policy = await applyPolicyRules(
    deps.policy,
    {
      direction: 'inbound',
      message: input.message,
      ip: input.ip,
      mailFrom: input.mailFrom,
      recipients: input.recipients,
      ...(authResults ? { auth: authResults } : {}),
      ...(spamScore !== undefined ? { spamScore } : {}),
    },
    { maxBytes: config.POLICY_MAX_MESSAGE_BYTES, budgetMs: config.POLICY_TIME_BUDGET_MS },
  );
  for (const rule of policy.decision.matched) deps.metrics.policyMatches?.inc({ rule });
  if (policy.decision.matched.length > 0) {
    logger.info({ spoolId: input.spoolId, rules: policy.decision.matched }, 'policy rules matched');
  }
  return {
    headers: headers + policy.headers,
    placement,
    reasons:
      policy.decision.matched.length > 0
        ? [...reasons, `policy ${policy.decision.matched.join(',')}`]
        : reasons,
    ...(policy.folder ? { folder: policy.folder } : {}),
    ...(policy.add.length > 0 || policy.replace
      ? { recipients: { add: policy.add, ...(policy.replace ? { replace: policy.replace } : {}) } }
      : {}),
    ...(policy.stripped ? { stripped: policy.stripped } : {}),
    ...(spamStatus !== undefined ? { spamStatus } : {}),
    ...(policy.quarantine ? { quarantine: policy.quarantine } : {}),
  };
}
