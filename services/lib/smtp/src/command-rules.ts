import { type ConnectionInternals, connectionPrototype, patchOnce } from './smtp-server-internals.js';

// Two command rules smtp-server's handlers skip, checked before its handler runs (the private
// members are named in smtp-server-internals.ts; test/smtp-server-internals.test.ts runs them):
// - DATA and RSET take no arguments (RFC 5321 sections 4.1.1.4 and 4.1.1.5): with one they get
//   501 5.5.4, as Postfix answers, and change nothing. smtp-server ignored the argument, so
//   `DATA x` started a message.
// - AUTH is not permitted during a mail transaction (RFC 4954 section 4): 503 5.5.1 before any
//   SASL exchange. smtp-server only refused a second AUTH; a client that may send without AUTH
//   (msa's trusted networks) could change its identity between MAIL and RCPT.
// The replies carry no enhanced code here: the library adds its own for the basic code, and
// enhanced-status-codes.ts announces them as the library's refusals (counted as 'protocol').

const hasArgument = (command: Buffer | string) => /^\S+\s+\S/.test(command.toString().trim());

patchOnce('commandRules', () => {
  for (const verb of ['DATA', 'RSET'] as const) {
    const handler = connectionPrototype[`handler_${verb}`];
    connectionPrototype[`handler_${verb}`] = function (
      this: ConnectionInternals,
      command: Buffer | string,
      callback: () => void,
    ) {
      if (!hasArgument(command)) return handler.call(this, command, callback);
      this.send(501, `Syntax: ${verb}`);
      return callback();
    };
  }
  const auth = connectionPrototype.handler_AUTH;
  connectionPrototype.handler_AUTH = function (
    this: ConnectionInternals,
    command: Buffer | string,
    callback: () => void,
  ) {
    if (!this.session.envelope?.mailFrom) return auth.call(this, command, callback);
    this.send(503, 'Error: MAIL transaction in progress');
    return callback();
  };
});

export const commandRulesPatched = true;
