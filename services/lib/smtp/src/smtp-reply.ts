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
  ) {
    super(`${enhancedCode} ${text}`);
    this.name = 'SmtpReplyError';
    this.responseCode = code;
  }
}

export function smtpError(code: number, enhancedCode: string, text: string): SmtpReplyError {
  return new SmtpReplyError(code, enhancedCode, text);
}
