import { BadArgumentsError } from '../protocol/errors.js';
import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';

/** Extensions a client may ENABLE here; anything else is ignored as RFC 5161 requires. */
const ENABLEABLE = new Set(['UTF8=ACCEPT', 'IMAP4REV2', 'CONDSTORE', 'QRESYNC', 'UIDONLY']);

export const enableCommand = defineCommand({
  name: 'ENABLE',
  states: authenticated,
  parse(args) {
    const names: string[] = [];
    while (args.remaining > 0) names.push(args.atom('capability').toUpperCase());
    if (names.length === 0) throw new BadArgumentsError('ENABLE needs a capability');
    return names;
  },
  async run(session, names) {
    const advertised = new Set(session.capabilities().map((c) => c.toUpperCase()));
    const newly: string[] = [];
    for (const name of names) {
      if (!ENABLEABLE.has(name) || !advertised.has(name) || session.enabled.has(name)) continue;
      session.enable(name);
      newly.push(name);
    }
    session.untagged(`ENABLED${newly.map((n) => ` ${n}`).join('')}`);
    return ok('ENABLE completed');
  },
});
