import type { ArchiveMember, InflateBudget } from './sniff.js';

/**
 * The files attached inside a TNEF stream (winmail.dat, application/ms-tnef), which Outlook
 * clients unpack and show as attachments. Written against [MS-OXTNEF]: the signature 0x223E9F78,
 * a 2-byte key, then attribute records (level, id, length, data, checksum). attAttachRendData
 * starts an attachment, attAttachTitle is its (8.3) name, attAttachData its bytes, and
 * attAttachment's MAPI properties may give PR_ATTACH_LONG_FILENAME (the name the client shows)
 * and, for an attached message or OLE object, its content (PR_ATTACH_DATA_OBJ: an interface id,
 * then the message as a TNEF stream of its own, which sniffing lists in turn).
 * Bounded: every length is checked against the bytes that remain, at most `maxMembers`
 * attachments, and the attachments' bytes count against the message's inflate budget (one past
 * it, or past `memberBytes`, is judged by its name). A stream that does not parse to its end is
 * `unlisted` with what it read.
 */

const SIGNATURE = 0x223e9f78;
const LEVEL_ATTACHMENT = 2;
const attAttachRendData = 0x00069002;
const attAttachTitle = 0x00018010;
const attAttachData = 0x0006800f;
const attAttachment = 0x00069005;
const PR_ATTACH_LONG_FILENAME = 0x3707;
/** PR_ATTACH_DATA_BIN (PT_BINARY) and PR_ATTACH_DATA_OBJ (PT_OBJECT) share the id. */
const PR_ATTACH_DATA = 0x3701;
/** A PT_OBJECT value starts with the object's interface id (IID_IMessage, IID_IStorage). */
const IID_BYTES = 16;
const PT_STRING8 = 0x001e;
const PT_UNICODE = 0x001f;
const PT_BINARY = 0x0102;
const PT_OBJECT = 0x000d;
/** PT_SVREID: a server entry id, encoded as PT_BINARY is. */
const PT_SVREID = 0x00fb;
const MULTI_VALUED = 0x1000;
/** Sizes of the fixed-length MAPI property types (each value is padded to 4 bytes). */
const FIXED_SIZES: Record<number, number> = {
  1: 0, // PT_NULL
  2: 2, // PT_I2
  3: 4, // PT_LONG
  4: 4, // PT_FLOAT
  5: 8, // PT_DOUBLE
  6: 8, // PT_CURRENCY
  7: 8, // PT_APPTIME
  10: 4, // PT_ERROR
  11: 2, // PT_BOOLEAN
  20: 8, // PT_I8
  64: 8, // PT_SYSTIME
  72: 16, // PT_CLSID
};

class Malformed extends Error {}

const padded = (n: number) => n + ((4 - (n % 4)) % 4);

export const isTnef = (data: Buffer) => data.length >= 4 && data.readUInt32LE(0) === SIGNATURE;

const cString = (bytes: Buffer, encoding: 'latin1' | 'utf16le') => {
  const text = bytes.toString(encoding);
  const end = text.indexOf('\0');
  return (end < 0 ? text : text.slice(0, end)).trim();
};

/**
 * PR_ATTACH_LONG_FILENAME and the attachment's data (PR_ATTACH_DATA_BIN or _OBJ without its
 * interface id) from attAttachment's property list; throws on a list that does not parse.
 */
function attachmentProperties(props: Buffer): { longName?: string; data?: Buffer } {
  let at = 0;
  const need = (n: number) => {
    if (n < 0 || at + n > props.length) throw new Malformed();
  };
  const u32 = () => {
    need(4);
    const v = props.readUInt32LE(at);
    at += 4;
    return v;
  };
  const count = u32();
  let name: string | undefined;
  let data: Buffer | undefined;
  // Each property takes at least 4 bytes: a count past what remains is a lie.
  if (count > (props.length - at) / 4) throw new Malformed();
  for (let k = 0; k < count; k++) {
    const tag = u32();
    const type = tag & 0xffff;
    const id = tag >>> 16;
    if (id >= 0x8000) {
      need(20); // named property: GUID and kind
      at += 16;
      const kind = u32();
      if (kind === 0) at += 4;
      else {
        const length = u32();
        need(padded(length));
        at += padded(length);
      }
    }
    const base = type & ~MULTI_VALUED;
    const fixed = FIXED_SIZES[base];
    if (fixed !== undefined) {
      const values = type & MULTI_VALUED ? u32() : 1;
      const size = padded(fixed) * values;
      need(size);
      at += size;
      continue;
    }
    if (![PT_STRING8, PT_UNICODE, PT_BINARY, PT_OBJECT, PT_SVREID].includes(base)) throw new Malformed();
    const values = u32();
    if (values > (props.length - at) / 4) throw new Malformed();
    for (let v = 0; v < values; v++) {
      const length = u32();
      need(padded(length));
      if (id === PR_ATTACH_LONG_FILENAME && v === 0 && (base === PT_STRING8 || base === PT_UNICODE))
        name = cString(props.subarray(at, at + length), base === PT_UNICODE ? 'utf16le' : 'latin1');
      if (id === PR_ATTACH_DATA && v === 0 && base === PT_BINARY) data = props.subarray(at, at + length);
      if (id === PR_ATTACH_DATA && v === 0 && base === PT_OBJECT && length >= IID_BYTES)
        data = props.subarray(at + IID_BYTES, at + length);
      at += padded(length);
    }
  }
  return { ...(name ? { longName: name } : {}), ...(data ? { data } : {}) };
}

export function listTnef(
  data: Buffer,
  budget: InflateBudget,
  limits: { maxMembers: number; memberBytes: number },
): { members: ArchiveMember[]; unlisted: boolean } {
  const members: ArchiveMember[] = [];
  let current: (ArchiveMember & { title?: string; long?: string }) | undefined;
  const finish = () => {
    if (current) current.name = current.long ?? current.title ?? '';
  };
  /** An attachment's bytes, read in place, within the member limit and the message's budget. */
  const setContent = (member: ArchiveMember, content: Buffer) => {
    member.size = content.length;
    if (content.length <= limits.memberBytes && content.length <= budget.bytes) {
      budget.bytes -= content.length;
      member.content = content;
    }
  };
  let at = 6; // signature and key
  try {
    if (data.length < at) throw new Malformed();
    while (at < data.length) {
      if (at + 9 > data.length) throw new Malformed();
      const level = data[at]!;
      const id = data.readUInt32LE(at + 1);
      const length = data.readUInt32LE(at + 5);
      const start = at + 9;
      if (length > data.length - start - 2) throw new Malformed();
      const value = data.subarray(start, start + length);
      at = start + length + 2; // and the checksum
      if (level !== LEVEL_ATTACHMENT) continue;
      if (id === attAttachRendData) {
        finish();
        if (members.length >= limits.maxMembers) return { members: members.map(plain), unlisted: true };
        current = { name: '', encrypted: false, size: 0 };
        members.push(current);
      } else if (current && id === attAttachTitle) {
        current.title = cString(value, 'latin1');
      } else if (current && id === attAttachData) {
        setContent(current, value);
      } else if (current && id === attAttachment) {
        const props = attachmentProperties(value);
        current.long = props.longName;
        if (props.data && current.content === undefined) setContent(current, props.data);
      }
    }
  } catch (error) {
    if (!(error instanceof Malformed)) throw error;
    finish();
    return { members: members.map(plain), unlisted: true };
  }
  finish();
  return { members: members.map(plain), unlisted: false };
}

/** The member without the reader's working fields. */
const plain = (m: ArchiveMember & { title?: string; long?: string }): ArchiveMember => {
  const { title: _title, long: _long, ...member } = m;
  return member;
};
