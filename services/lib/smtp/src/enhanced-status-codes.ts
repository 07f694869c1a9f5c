import { messageTooBigText } from './envelope-rules.js';
import { type ConnectionInternals, connectionPrototype, patchOnce } from './smtp-server-internals.js';

// smtp-server adds an RFC 3463 enhanced code to each reply when hideENHANCEDSTATUSCODES is false,
// chosen from the basic code alone. Our hooks choose theirs (SmtpReplyError puts it first in the
// text: 550 5.7.1 is not 550 5.1.1), so a reply whose text already starts with an enhanced code is
// sent as it is. The library's own replies keep the library's code, except two it gets wrong:
// 538 is 5.7.11 (RFC 4954 section 6), and its 552 for SIZE= at MAIL uses our one wording.
// This is the only place that touches SMTPConnection.send (its private members are named in
// smtp-server-internals.ts); test/smtp-server-internals.test.ts and
// test/integration/mx/smtp-hygiene.test.ts break if an upgrade changes it. Each refusal the library itself sends (a code of 400 or more
// without our enhanced code) is announced as a 'hermod:refused' event on the server, for counting.

export interface LibraryRefusal {
  session: { id: string };
  code: number;
  /** The library's context name, such as MESSAGE_TOO_BIG or SENDER_SYNTAX_ERROR, when it gave one. */
  context: string | undefined;
  text: string;
}

const enhanced = /^[245]\.\d{1,3}\.\d{1,3} /;

patchOnce('enhancedStatusCodes', () => {
  const send = connectionPrototype.send;
  connectionPrototype.send = function (
    this: ConnectionInternals,
    code: number,
    data: unknown,
    context?: string | false,
  ) {
    if (typeof data === 'string' && enhanced.test(data)) return send.call(this, code, data, false);
    if (code === 538 && typeof data === 'string') return send.call(this, code, `5.7.11 ${data}`, false);
    if (code === 552 && context === 'MESSAGE_TOO_BIG' && this._server.options.size)
      data = messageTooBigText(this._server.options.size);
    if (code >= 400 && typeof data === 'string')
      this._server.emit('hermod:refused', {
        session: this.session,
        code,
        context: typeof context === 'string' ? context : undefined,
        text: data,
      } satisfies LibraryRefusal);
    return send.call(this, code, data, context);
  };
});

export const enhancedStatusCodesPatched = true;
