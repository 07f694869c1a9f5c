import { routingV1 } from '@hermod/proto';
import { recipientHook } from '@hermod/smtp';
import type { SMTPServerOptions } from 'smtp-server';
import type { MxDeps } from '../deps.js';

/**
 * RCPT TO: the session's own limits (recipient count, SMTPUTF8 encoding) here; whether the
 * recipient is served, a relay attempt, bad syntax or unknown is routing's decision, asked at
 * once (550 5.7.1 / 501 5.1.3 / 550 5.1.1 now, never a bounce later).
 */
export function onRcptTo(deps: MxDeps): NonNullable<SMTPServerOptions['onRcptTo']> {
  return recipientHook(deps, {
    maxRecipients: deps.config.MX_MAX_RECIPIENTS,
    channel: routingV1.Channel.CHANNEL_INBOUND,
  });
}
