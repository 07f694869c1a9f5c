import { MetadataLimitError } from '@hermod/mail-store';
import { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { stringBytes } from '../protocol/parser.js';
import { authenticated } from '../session/states.js';
import { defineCommand, no, ok } from './command.js';
import { metadataTarget, parseEntryName, SPECIAL_USE_ENTRY } from './metadata-entries.js';

/**
 * SETMETADATA mailbox (entry value ...) (RFC 5464 section 4.3): sets, or with NIL removes, entries
 * of the server ("") or of a mailbox, all or nothing. Limits: a value longer than
 * IMAP_METADATA_MAX_SIZE is NO [METADATA MAXSIZE n]; more than IMAP_METADATA_MAX_ENTRIES entries per
 * account NO [METADATA TOOMANY]. Private entries are supported everywhere (so never NOPRIVATE);
 * server /shared entries are the administrator's (NO [NOPERM]). A mailbox's /private/specialuse
 * reads its special use (RFC 6154 section 4), which SETMETADATA does not change (NO [CANNOT]).
 */
export const setMetadataCommand = defineCommand({
  name: 'SETMETADATA',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    const list = args.list('entry values');
    args.end();
    const cursor = new ArgumentCursor(list.items);
    const entries = new Map<string, Buffer | null>();
    if (cursor.remaining === 0) throw new BadArgumentsError('No entries');
    while (cursor.remaining > 0) {
      const name = parseEntryName(cursor.astring('entry'), false);
      const value = cursor.next('value');
      if (value.type === 'atom' && value.value.toUpperCase() === 'NIL') entries.set(name, null);
      else if (value.type === 'string') entries.set(name, stringBytes(value));
      else throw new BadArgumentsError('Expected a value or NIL');
    }
    return { mailbox, entries: [...entries].map(([name, value]) => ({ name, value })) };
  },
  async run(session, { mailbox, entries }) {
    const { metadataMaxSize, metadataMaxEntries } = session.deps.limits;
    const longest = Math.max(...entries.map((e) => e.value?.length ?? 0));
    if (longest > metadataMaxSize) return no('Value too long', `METADATA MAXSIZE ${metadataMaxSize}`);
    const names = entries.map((e) => e.name);
    const target = await metadataTarget(session, mailbox, names, true);
    if ('status' in target) return target;
    if (target.mailboxId === null && entries.some((e) => e.name.startsWith('/shared/')))
      return no('Server shared entries are set by the administrator', 'NOPERM');
    if (target.mailboxId !== null && names.includes(SPECIAL_USE_ENTRY))
      return no(`${SPECIAL_USE_ENTRY} follows the mailbox's special use and cannot be set`, 'CANNOT');
    try {
      await session.backend.setMetadata(
        session.user!.id,
        target.mailboxId,
        entries,
        metadataMaxEntries,
        target.ownerId,
      );
    } catch (error) {
      if (error instanceof MetadataLimitError) return no(error.message, 'METADATA TOOMANY');
      throw error;
    }
    return ok('SETMETADATA completed');
  },
});
