import { BadArgumentsError } from '../protocol/errors.js';
import { stringBytes } from '../protocol/parser.js';
import { anyState } from '../session/states.js';
import { defineCommand, ok } from './command.js';

/** ID (RFC 2971): logs what the client says about itself, answers with the server's name only. */
export const idCommand = defineCommand({
  name: 'ID',
  states: anyState,
  parse(args) {
    const token = args.next('parameter list');
    args.end();
    if (token.type === 'atom' && token.value.toUpperCase() === 'NIL') return {};
    if (token.type !== 'list') throw new BadArgumentsError('Expected a parameter list or NIL');
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < token.items.length && i < 60; i += 2) {
      const k = token.items[i];
      const v = token.items[i + 1];
      if (k?.type === 'string' && v?.type === 'string')
        fields[stringBytes(k).toString('utf8').slice(0, 30)] = stringBytes(v).toString('utf8').slice(0, 1024);
    }
    return fields;
  },
  async run(session, fields) {
    session.logger.info({ client: fields }, 'client id');
    session.untagged('ID ("name" "Hermod" "vendor" "Hermod")');
    return ok('ID completed');
  },
});
