import type { MetadataDepth } from '@hermod/mail-store';
import { ArgumentCursor } from '../protocol/arguments.js';
import { astring, imapString } from '../protocol/compose.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { MAX_NUMBER } from '../protocol/sequence-set.js';
import { authenticated } from '../session/states.js';
import { defineCommand, ok } from './command.js';
import { encodeName } from './list.js';
import { entryReached, metadataTarget, parseEntryName, SPECIAL_USE_ENTRY } from './metadata-entries.js';

interface GetMetadataArgs {
  mailbox: string;
  entries: string[];
  maxSize?: number;
  depth: MetadataDepth;
}

/** A METADATA value: quoted when it is short safe text, a literal (literal8 with NUL) otherwise. */
export function metadataValue(value: Buffer): string {
  const text = value.toString('latin1');
  if (value.length < 1024 && /^[\x20-\x7e]*$/.test(text)) return imapString(text);
  return `${value.includes(0) ? '~' : ''}{${value.length}}\r\n${text}`;
}

/**
 * GETMETADATA [(MAXSIZE n DEPTH 0|1|infinity)] mailbox entry / (entry ...) (RFC 5464 section 4.2):
 * one METADATA response with every asked entry (NIL when it has no value) and, with DEPTH, the
 * existing entries below it. Values longer than MAXSIZE are left out and reported by the tagged
 * OK [METADATA LONGENTRIES n], n being the longest left out. A mailbox's /private/specialuse is its
 * special-use attribute (RFC 6154 section 4), whatever was stored under that name.
 */
export const getMetadataCommand = defineCommand({
  name: 'GETMETADATA',
  states: authenticated,
  parse(args, session): GetMetadataArgs {
    let maxSize: number | undefined;
    let depth: MetadataDepth = 0;
    const options = args.optionalList();
    if (options) {
      const cursor = new ArgumentCursor(options.items);
      if (cursor.remaining === 0) throw new BadArgumentsError('Empty GETMETADATA options');
      while (cursor.remaining > 0) {
        const option = cursor.atom('option').toUpperCase();
        if (option === 'MAXSIZE') maxSize = cursor.number('MAXSIZE', MAX_NUMBER);
        else if (option === 'DEPTH') {
          const value = cursor.atom('DEPTH').toLowerCase();
          if (value !== '0' && value !== '1' && value !== 'infinity')
            throw new BadArgumentsError('Invalid DEPTH');
          depth = value === 'infinity' ? 'infinity' : (Number(value) as 0 | 1);
        } else throw new BadArgumentsError(`Unknown GETMETADATA option ${option}`);
      }
    }
    const mailbox = args.mailbox(session.utf8);
    const list = args.optionalList();
    const names = list
      ? list.items.map((t) => {
          if (t.type === 'list') throw new BadArgumentsError('Expected an entry name');
          return new ArgumentCursor([t]).astring('entry');
        })
      : [args.astring('entry')];
    args.end();
    if (names.length === 0) throw new BadArgumentsError('No entries');
    const entries = [...new Set(names.map((n) => parseEntryName(n, true)))];
    return { mailbox, entries, depth, ...(maxSize !== undefined ? { maxSize } : {}) };
  },
  async run(session, args) {
    const target = await metadataTarget(session, args.mailbox, args.entries, false);
    if ('status' in target) return target;
    const found = await session.backend.getMetadata(
      session.user!.id,
      target.mailboxId,
      args.entries,
      args.depth,
    );
    const values = new Map(found.map((e) => [e.name, e.value]));
    if (target.mailboxId !== null) {
      values.delete(SPECIAL_USE_ENTRY);
      if (target.specialUse && args.entries.some((e) => entryReached(e, SPECIAL_USE_ENTRY, args.depth)))
        values.set(SPECIAL_USE_ENTRY, Buffer.from(target.specialUse));
    }
    // In the order asked for (section 4.2's examples), each entry followed by what DEPTH reached below it.
    const names = new Set<string>();
    const stored = [...values.keys()].sort();
    for (const asked of args.entries) {
      if (/^\/(private|shared)\/./.test(asked)) names.add(asked);
      for (const name of stored) if (entryReached(asked, name, args.depth)) names.add(name);
    }
    let longest = 0;
    const parts: string[] = [];
    for (const name of names) {
      const value = values.get(name);
      if (value && args.maxSize !== undefined && value.length > args.maxSize) {
        longest = Math.max(longest, value.length);
        continue;
      }
      parts.push(`${astring(name)} ${value ? metadataValue(value) : 'NIL'}`);
    }
    if (parts.length > 0)
      session.untagged(`METADATA ${encodeName(session, args.mailbox)} (${parts.join(' ')})`);
    return ok('GETMETADATA completed', longest > 0 ? `METADATA LONGENTRIES ${longest}` : undefined);
  },
});
