import type { SMTPServer } from 'smtp-server';
import type { LibraryRefusal } from './enhanced-status-codes.js';
import { type ConnectionInternals, connectionPrototype, patchOnce } from './smtp-server-internals.js';

// Refusals per session, bounded like Postfix's smtpd_hard_error_limit (20): the reply that reaches
// the limit is followed by 421 4.7.0 and the connection ends. Without it one session could try
// recipients without end (a directory harvest: each unknown one costs a routing lookup) or repeat
// any refused command; smtp-server itself only limits unrecognized commands (ten). Every reply of
// 400 or more counts, ours and the library's, except 421 (which closes anyway). smtp-server has no
// option for it: this wraps SMTPConnection.send (private members named in smtp-server-internals.ts;
// test/smtp-server-internals.test.ts runs it against a real server).

const limits = new WeakMap<object, number>();
const counts = new WeakMap<object, number>();

/** Ends a session of server at its max-th refusal (0: no limit). */
export function limitSessionErrors(server: SMTPServer, max: number): void {
  if (max > 0) limits.set(server, max);
  else limits.delete(server);
}

patchOnce('errorLimit', () => {
  const send = connectionPrototype.send;
  connectionPrototype.send = function (
    this: ConnectionInternals,
    code: number,
    data?: unknown,
    context?: string | false,
  ) {
    const result = send.call(this, code, data, context);
    const max = limits.get(this._server);
    if (!max || code < 400 || code === 421) return result;
    const count = (counts.get(this) ?? 0) + 1;
    counts.set(this, count);
    if (count >= max) {
      const text = 'Too many errors, closing connection';
      this._server.emit('hermod:refused', {
        session: this.session,
        code: 421,
        context: 'TOO_MANY_ERRORS',
        text,
      } satisfies LibraryRefusal);
      // smtp-server closes the connection after any 421.
      send.call(this, 421, `4.7.0 ${text}`, false);
    }
    return result;
  };
});
