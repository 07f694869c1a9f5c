import { findAccessible } from '../acl/access.js';
import { holds, storableFlags } from '../acl/rights.js';
import { classifyName } from '../acl/shared-namespace.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { formatSequenceSet } from '../protocol/sequence-set.js';
import { authenticated } from '../session/states.js';
import { type AppendMessage, messageBytes, parseAppendMessage } from './append-message.js';
import { defineCommand, no, ok } from './command.js';

/**
 * APPEND with flags and internal date; several messages in one command (MULTIAPPEND, RFC 3502),
 * each a literal or joined from text and URL parts (CATENATE, RFC 4469).
 */
export const appendCommand = defineCommand({
  name: 'APPEND',
  states: authenticated,
  parse(args, session) {
    const mailbox = args.mailbox(session.utf8);
    const messages: AppendMessage[] = [];
    while (args.remaining > 0) messages.push(parseAppendMessage(args, session));
    if (messages.length === 0) throw new BadArgumentsError('Missing message');
    return { mailbox, messages };
  },
  async run(session, { mailbox, messages }) {
    const user = session.user!;
    // The usual APPEND (one non-empty literal to one of the account's own mailboxes): one statement
    // for the mailbox, the storage limit and the append, answered as the general way below would.
    const [only] = messages;
    if (
      only &&
      messages.length === 1 &&
      only.content.kind === 'literal' &&
      !only.content.literal8 &&
      only.content.size > 0 &&
      classifyName(mailbox).kind === 'own'
    ) {
      const appended = await session.backend.appendByName(user.id, mailbox, {
        chunks: only.content.chunks,
        flags: only.flags,
        internalDate: only.date ?? new Date(),
        ...(only.zone ? { internalDateZone: only.zone } : {}),
      });
      if (appended === 'nonexistent') return no('No such mailbox', 'TRYCREATE');
      if (appended === 'overquota') return no('Over quota', 'OVERQUOTA');
      if (appended) {
        session.mailboxChanged(appended.mailboxId);
        return ok('APPEND completed', `APPENDUID ${appended.uidvalidity} ${appended.uid}`);
      }
    }
    // Literal messages: both lookups at once (two pooled connections), one round trip less per APPEND.
    const literalSize = messages.every((m) => m.content.kind === 'literal')
      ? messages.reduce((n, m) => n + (m.content.kind === 'literal' ? m.content.size : 0), 0)
      : undefined;
    const [access, ownFit] = await Promise.all([
      findAccessible(session, mailbox),
      literalSize === undefined ? undefined : session.backend.fits(user.id, literalSize),
    ]);
    // APPEND needs i (RFC 4314 section 4); the owner's storage limit counts.
    if (!access || (!access.rights.includes('l') && !holds(access.rights, 'i')))
      return no('No such mailbox', 'TRYCREATE');
    if (!holds(access.rights, 'i')) return no('Permission denied (needs the i right)', 'NOPERM');
    const { box, ownerId } = access;
    const literalsFit =
      literalSize === undefined || !access.shared ? ownFit : await session.backend.fits(ownerId, literalSize);
    const bytes = await messageBytes(session, messages);
    if ('status' in bytes) return bytes;
    if (bytes.sizes.some((size) => size === 0)) return no('Empty message');
    const total = bytes.sizes.reduce((n, size) => n + size, 0);
    if (!(literalsFit ?? (await session.backend.fits(ownerId, total)))) return no('Over quota', 'OVERQUOTA');
    const results = await session.backend.append(
      ownerId,
      box.id,
      messages.map((m, i) => ({
        chunks: bytes.chunks[i]!,
        // Only the flags the rights allow are stored (RFC 4314 4); the owner holds them all.
        flags: storableFlags(access.rights, m.flags),
        internalDate: m.date ?? new Date(),
        ...(m.zone ? { internalDateZone: m.zone } : {}),
      })),
    );
    const uids = results.map((r) => r.uid);
    const uidvalidity = results[0]?.uidvalidity ?? box.uidvalidity;
    session.mailboxChanged(box.id);
    return ok('APPEND completed', `APPENDUID ${uidvalidity} ${formatSequenceSet(uids)}`);
  },
});
