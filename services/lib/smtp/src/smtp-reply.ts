import type { RefusalReason } from './refusals.js';

/**
 * An SMTP refusal with its exact reply: smtp-server sends `responseCode` and the message, which
 * starts with the RFC 3463 enhanced code (servers run with hideENHANCEDSTATUSCODES so that every
 * enhanced code is chosen here, not guessed from the basic code).
 */
export class SmtpReplyError extends Error {
  readonly responseCode: number;
  constructor(
    code: number,
    readonly enhancedCode: string,
    text: string,
    /**
     * Why, when the accept pipeline is to count it: a content check's refusal at the end of DATA
     * is counted there, once, and only when it is the reply the client gets.
     */
    readonly refusalReason?: RefusalReason,
  ) {
    super(`${enhancedCode} ${text}`);
    this.name = 'SmtpReplyError';
    this.responseCode = code;
  }
}

export function smtpError(
  code: number,
  enhancedCode: string,
  text: string,
  refusalReason?: RefusalReason,
): SmtpReplyError {
  return new SmtpReplyError(code, enhancedCode, text, refusalReason);
}
