import { requireSelected } from '../acl/access.js';
import type { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { referencesSequenceNumbers, type SearchKey } from '../search/search-query.js';
import { formatThreads, threadOrderedSubject, threadReferences } from '../search/sort-thread.js';
import type { CommandContext } from '../session/command-context.js';
import { type CommandResult, defineCommand, no, ok } from './command.js';
import { parseCharsetAndKeys, threadInputs } from './sort.js';

type Algorithm = 'ORDEREDSUBJECT' | 'REFERENCES';

function parseThread(args: ArgumentCursor) {
  const algorithm = args.atom('algorithm').toUpperCase();
  if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES')
    throw new BadArgumentsError('Unsupported threading algorithm');
  const { charset, key, returns } = parseCharsetAndKeys(args);
  if (returns) throw new BadArgumentsError('RETURN is not allowed here');
  return { algorithm: algorithm as Algorithm, charset, key };
}

async function runThread(
  session: CommandContext,
  args: { algorithm: Algorithm; charset: string; key: SearchKey },
  byUid: boolean,
): Promise<CommandResult> {
  await requireSelected(session, 'r');
  if (!['UTF-8', 'US-ASCII'].includes(args.charset))
    return no('Unsupported charset', 'BADCHARSET (UTF-8 US-ASCII)');
  const inputs = await threadInputs(session, args.key);
  const idOf = (m: { uid: number; seq: number }) => (byUid ? m.uid : m.seq);
  const roots =
    args.algorithm === 'ORDEREDSUBJECT' ? threadOrderedSubject(inputs, idOf) : threadReferences(inputs, idOf);
  session.untagged(`THREAD${roots.length > 0 ? ` ${formatThreads(roots)}` : ''}`);
  return ok(`${byUid ? 'UID THREAD' : 'THREAD'} completed`);
}

export const threadCommand = defineCommand({
  name: 'THREAD',
  states: ['selected'],
  allowsExpunge: false,
  usesSequenceNumbers: true,
  parse: parseThread,
  run: (s, a) => runThread(s, a, false),
});
export const uidThreadCommand = defineCommand({
  name: 'UID THREAD',
  states: ['selected'],
  usesSequenceNumbers: (args) => referencesSequenceNumbers(args.key),
  parse: parseThread,
  run: (s, a) => runThread(s, a, true),
});
