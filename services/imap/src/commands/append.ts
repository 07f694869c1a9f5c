import { parseFlagList } from '../protocol/arguments.js';
import { parseImapDate } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import { authenticated } from '../session/states.js';
import { defineCommand, no, ok } from './command.js';

interface AppendMessage {
  flags: string[];
  date: Date | undefined;
  chunks: Buffer[];
  size: number;
}

/** APPEND with flags and internal date; several messages in one command (MULTIAPPEND, RFC 3502). */
export const appendCommand = defineCommand({
  name: 'APPEND',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    const messages: AppendMessage[] = [];
    while (args.remaining > 0) {
      let flags: string[] = [];
      let date: Date | undefined;
      const list = args.optionalList();
      if (list) flags = parseFlagList(list.items);
      let token = args.next('message literal');
      if (token.type === 'string' && !token.literal) {
        date = parseImapDate(Buffer.concat(token.chunks).toString('latin1'), true);
        if (!date) throw new BadArgumentsError('Invalid date-time');
        token = args.next('message literal');
      }
      if (token.type === 'atom' && token.value.toUpperCase() === 'UTF8') {
        // RFC 6855: APPEND ... UTF8 (literal8) for messages with UTF-8 headers.
        if (!session.utf8) throw new BadArgumentsError('UTF8 APPEND needs ENABLE UTF8=ACCEPT');
        const inner = args.list('UTF8 message').items;
        if (inner.length !== 1) throw new BadArgumentsError('Expected one message literal');
        token = inner[0]!;
      }
      if (token.type !== 'string' || !token.literal)
        throw new BadArgumentsError('Expected a message literal');
      messages.push({ flags, date, chunks: token.chunks, size: token.size });
    }
    if (messages.length === 0) throw new BadArgumentsError('Missing message');
    return { mailbox, messages };
  },
  async run(session, { mailbox, messages }) {
    const user = session.user!;
    if (messages.some((m) => m.size === 0)) return no('Empty message');
    // Both lookups at once (two pooled connections): one round trip less per APPEND.
    const [box, fits] = await Promise.all([
      session.backend.findMailbox(user.id, mailbox),
      session.backend.fits(
        user.id,
        messages.reduce((n, m) => n + m.size, 0),
      ),
    ]);
    if (!box) return no('No such mailbox', 'TRYCREATE');
    if (!fits) return no('Over quota', 'OVERQUOTA');
    const results = await session.backend.append(
      user.id,
      box.id,
      messages.map((m) => ({ chunks: m.chunks, flags: m.flags, internalDate: m.date ?? new Date() })),
    );
    const uids = results.map((r) => r.uid);
    const uidvalidity = results[0]?.uidvalidity ?? box.uidvalidity;
    if (session.selected?.id === box.id) session.dirty = true;
    return ok('APPEND completed', `APPENDUID ${uidvalidity} ${formatSequenceSet(uids)}`);
  },
});
