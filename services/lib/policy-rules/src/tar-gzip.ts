import { gunzipSync } from 'node:zlib';
import type { ArchiveMember, InflateBudget } from './sniff.js';

/**
 * Member listings of tar archives (POSIX ustar, pax and GNU long names) and gzip files (a .tar.gz
 * is listed as its tar; a .gz of one file is that file), which Windows 11 opens as it opens zips.
 * Written against POSIX pax/ustar and RFC 1952. Bounded: gunzip within the message's inflate
 * budget, at most `maxMembers` members, every size checked against the bytes there are.
 */

const BLOCK = 512;

const cString = (bytes: Buffer) => {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? bytes.length : end).toString('utf8');
};

/** A tar number field: octal digits (NUL or space ended), or base-256 when the high bit is set. */
function tarNumber(field: Buffer): number | undefined {
  if (field[0]! & 0x80) {
    let value = 0;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return Number.isSafeInteger(value) ? value : undefined;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  return /^[0-7]*$/.test(text) ? Number.parseInt(text || '0', 8) : undefined;
}

/** A ustar header: the magic and a checksum that adds up (so text is never taken for a tar). */
export function isTar(data: Buffer): boolean {
  if (data.length < BLOCK || data.toString('latin1', 257, 262) !== 'ustar') return false;
  const stored = tarNumber(data.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : data[i]!;
  return stored === sum;
}

/** The value of one record (`<length> <key>=<value>\n`) of a pax extended header. */
function paxValue(records: Buffer, key: string): string | undefined {
  const text = records.toString('utf8');
  const found = new RegExp(`(?:^|\\n)\\d+ ${key}=([^\\n]*)\\n`).exec(text);
  return found?.[1];
}

export function listTar(data: Buffer, maxMembers: number): { members: ArchiveMember[]; unlisted: boolean } {
  const members: ArchiveMember[] = [];
  let longName: string | undefined;
  let at = 0;
  while (at + BLOCK <= data.length) {
    const header = data.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return { members, unlisted: false };
    if (members.length >= maxMembers) return { members, unlisted: true };
    const size = tarNumber(header.subarray(124, 136));
    if (size === undefined || header.toString('latin1', 257, 262) !== 'ustar')
      return { members, unlisted: true };
    const type = String.fromCharCode(header[156]!);
    const body = at + BLOCK;
    const content = body + size <= data.length ? data.subarray(body, body + size) : undefined;
    if (type === 'L' || type === 'x') {
      // GNU long name, pax extended header: they name the entry that follows.
      if (!content) return { members, unlisted: true };
      longName = type === 'L' ? cString(content) : (paxValue(content, 'path') ?? longName);
    } else if (type !== 'g') {
      // POSIX ustar ("ustar\0") has a name prefix; GNU's ("ustar  ") uses those bytes otherwise.
      const prefix = header[262] === 0 ? cString(header.subarray(345, 500)) : '';
      const own = cString(header.subarray(0, 100));
      let name = longName ?? (prefix ? `${prefix}/${own}` : own);
      longName = undefined;
      if (type === '5' && !name.endsWith('/')) name += '/';
      if (type === '0' || type === '\0' || type === '7' || type === '5') {
        const member: ArchiveMember = { name, encrypted: false, size };
        if (content && type !== '5') member.content = content;
        members.push(member);
      }
    }
    at = body + Math.ceil(size / BLOCK) * BLOCK;
  }
  // Ended without its end blocks: whole when the last entry was, else cut short.
  return { members, unlisted: at !== data.length };
}

/** The file name a gzip header carries (FNAME), if any. */
function gzipName(data: Buffer): string | undefined {
  const flags = data[3]!;
  let at = 10;
  if (flags & 0x04) at += 2 + (data.length >= 12 ? data.readUInt16LE(10) : 0);
  if (!(flags & 0x08) || at >= data.length) return undefined;
  const end = data.indexOf(0, at);
  return end < 0 ? undefined : data.toString('latin1', at, end);
}

/** What a gzip file holds: the members of its tar, or the one file it compresses. */
export function listGzip(
  data: Buffer,
  fileName: string,
  budget: InflateBudget,
  maxMembers: number,
): { members: ArchiveMember[]; unlisted: boolean } {
  let inflated: Buffer;
  try {
    inflated = gunzipSync(data, { maxOutputLength: Math.max(1, budget.bytes) });
  } catch {
    // Damaged, or larger than what is left of the budget: its names cannot be read.
    return { members: [], unlisted: true };
  }
  budget.bytes -= inflated.length;
  if (isTar(inflated)) return listTar(inflated, maxMembers);
  const base = fileName.slice(fileName.lastIndexOf('/') + 1);
  const name =
    gzipName(data) ?? (/\.tgz$/i.test(base) ? base.replace(/\.tgz$/i, '.tar') : base.replace(/\.gz$/i, ''));
  return {
    members: [{ name: name || 'unnamed', encrypted: false, size: inflated.length, content: inflated }],
    unlisted: false,
  };
}
