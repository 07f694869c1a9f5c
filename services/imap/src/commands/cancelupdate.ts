import { BadArgumentsError } from '../protocol/errors.js';
import { stringBytes } from '../protocol/parser.js';
import { defineCommand, no, ok } from './command.js';

/**
 * CANCELUPDATE "tag" ... (RFC 5267 section 4.3.5): stops the updates of the named SEARCH/SORT
 * RETURN (UPDATE) contexts. command-select =/ "CANCELUPDATE" 1*(SP quoted).
 */
export const cancelUpdateCommand = defineCommand({
  name: 'CANCELUPDATE',
  states: ['selected'],
  parse(args) {
    const tags: string[] = [];
    while (args.remaining > 0) {
      const token = args.stringToken('quoted tag');
      if (token.literal) throw new BadArgumentsError('Expected a quoted tag');
      tags.push(stringBytes(token).toString('latin1'));
    }
    if (tags.length === 0) throw new BadArgumentsError('CANCELUPDATE needs a tag');
    return tags;
  },
  async run(session, tags) {
    const box = session.selected!;
    const unknown = tags.filter((tag) => !box.contexts.has(tag));
    if (unknown.length > 0) return no(`No update context for ${unknown.join(' ')}`);
    box.cancelContexts(tags);
    return ok('CANCELUPDATE completed');
  },
});
