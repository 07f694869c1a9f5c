// A small TNEF writer after [MS-OXTNEF] (signature, key, attribute records with checksums;
// attAttachment's MAPI properties for the long file name), for the tests: what Outlook sends as
// winmail.dat. Cross-checked once by hand against Python's tnefparse (not a test dependency).

const LEVEL_MESSAGE = 1;
const LEVEL_ATTACHMENT = 2;
const attTnefVersion = 0x00089006;
const attOemCodepage = 0x00069007;
const attMessageClass = 0x00078008;
const attAttachRendData = 0x00069002;
const attAttachTitle = 0x00018010;
const attAttachData = 0x0006800f;
const attAttachment = 0x00069005;

/** One attribute record: level, id, length, data, checksum (sum of the data bytes mod 65536). */
function attribute(level: number, id: number, data: Buffer): Buffer {
  const head = Buffer.alloc(9);
  head[0] = level;
  head.writeUInt32LE(id, 1);
  head.writeUInt32LE(data.length, 5);
  const sum = Buffer.alloc(2);
  sum.writeUInt16LE(data.reduce((s, b) => (s + b) & 0xffff, 0));
  return Buffer.concat([head, data, sum]);
}

const pad4 = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);

/** One MAPI property of a variable-length type: tag, one value, its size, the value padded. */
function variableProperty(type: number, id: number, value: Buffer): Buffer {
  const tag = Buffer.alloc(12);
  tag.writeUInt16LE(type, 0);
  tag.writeUInt16LE(id, 2);
  tag.writeUInt32LE(1, 4); // one value
  tag.writeUInt32LE(value.length, 8);
  return Buffer.concat([tag, pad4(value)]);
}

/** IID_IMessage {00020307-0000-0000-C000-000000000046} as GUID bytes. */
const IID_IMESSAGE = Buffer.from([7, 3, 2, 0, 0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 0x46]);

/**
 * attAttachment's MAPI properties: PR_ATTACH_METHOD (PT_LONG: 1 by value, 5 an embedded
 * message), PR_ATTACH_LONG_FILENAME (PT_UNICODE), PR_ATTACH_DATA_OBJ (PT_OBJECT: the IID, then
 * the embedded message as a TNEF stream).
 */
function attachProps(longName: string | undefined, embedded: Buffer | undefined): Buffer {
  const props: Buffer[] = [];
  const method = Buffer.alloc(8);
  method.writeUInt16LE(0x0003, 0); // PT_LONG
  method.writeUInt16LE(0x3705, 2); // PR_ATTACH_METHOD
  method.writeUInt32LE(embedded ? 5 : 1, 4);
  props.push(method);
  if (longName) props.push(variableProperty(0x001f, 0x3707, Buffer.from(`${longName}\0`, 'utf16le')));
  if (embedded) props.push(variableProperty(0x000d, 0x3701, Buffer.concat([IID_IMESSAGE, embedded])));
  const count = Buffer.alloc(4);
  count.writeUInt32LE(props.length);
  return Buffer.concat([count, ...props]);
}

export interface TnefFile {
  title: string;
  /** The file's bytes (attAttachData); none for an embedded message. */
  data?: Buffer;
  longName?: string;
  /** An attached message (PR_ATTACH_DATA_OBJ) holding these files. */
  embedded?: TnefFile[];
}

/** A TNEF stream (winmail.dat) with the given attached files. */
export function makeTnef(files: TnefFile[]): Buffer {
  const sig = Buffer.alloc(6);
  sig.writeUInt32LE(0x223e9f78, 0);
  sig.writeUInt16LE(0x1234, 4);
  const version = Buffer.alloc(4);
  version.writeUInt32LE(0x00010000);
  const codepage = Buffer.alloc(8);
  codepage.writeUInt32LE(1252);
  const parts = [
    sig,
    attribute(LEVEL_MESSAGE, attTnefVersion, version),
    attribute(LEVEL_MESSAGE, attOemCodepage, codepage),
    attribute(LEVEL_MESSAGE, attMessageClass, Buffer.from('IPM.Microsoft Mail.Note\0', 'latin1')),
  ];
  for (const f of files) {
    parts.push(attribute(LEVEL_ATTACHMENT, attAttachRendData, Buffer.alloc(14)));
    parts.push(attribute(LEVEL_ATTACHMENT, attAttachTitle, Buffer.from(`${f.title}\0`, 'latin1')));
    if (f.data) parts.push(attribute(LEVEL_ATTACHMENT, attAttachData, f.data));
    const embedded = f.embedded ? makeTnef(f.embedded) : undefined;
    if (f.longName || embedded)
      parts.push(attribute(LEVEL_ATTACHMENT, attAttachment, attachProps(f.longName, embedded)));
  }
  return Buffer.concat(parts);
}
