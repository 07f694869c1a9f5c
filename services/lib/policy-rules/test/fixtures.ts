import { crc32, deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  data: Buffer;
  /** Sets the traditional encryption flag (the content is then not readable, as in a real one). */
  encrypted?: boolean;
  deflate?: boolean;
}

/** A minimal zip writer for tests (local headers, central directory, end record). */
export function makeZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const flags = (e.encrypted ? 1 : 0) | 0x800;
    const method = e.deflate ? 8 : 0;
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(e.data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A PE-looking executable: MZ header and some bytes. */
export const PE = Buffer.concat([Buffer.from('MZ\x90\x00\x03\x00\x00\x00', 'latin1'), Buffer.alloc(120, 0)]);
/** An OLE compound file naming a VBA project storage (as legacy .doc/.xls with macros do). */
export const OLE_MACRO = Buffer.concat([
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
  Buffer.alloc(500, 0),
  Buffer.from('_VBA_PROJECT', 'utf16le'),
  Buffer.alloc(64, 0),
]);
export const OLE_PLAIN = Buffer.concat([
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]),
  Buffer.alloc(500, 0),
]);
export const DOCM = makeZip([
  { name: '[Content_Types].xml', data: Buffer.from('<Types/>'), deflate: true },
  { name: 'word/document.xml', data: Buffer.from('<w:document/>'), deflate: true },
  { name: 'word/vbaProject.bin', data: OLE_MACRO, deflate: true },
]);
export const DOCX = makeZip([
  { name: '[Content_Types].xml', data: Buffer.from('<Types/>'), deflate: true },
  { name: 'word/document.xml', data: Buffer.from('<w:document/>'), deflate: true },
]);
export const PDF = Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n', 'latin1');

export interface Attachment {
  name: string;
  data: Buffer;
  type?: string;
}

/** A message with a text part and attachments (base64), CRLF line endings. */
export function makeMessage(options: {
  from?: string;
  to?: string;
  cc?: string;
  replyTo?: string;
  subject?: string;
  text?: string;
  attachments?: Attachment[];
}): Buffer {
  const head =
    `From: ${options.from ?? 'Alice <alice@example.org>'}\r\n` +
    `To: ${options.to ?? 'bob@example.com'}\r\n` +
    (options.cc ? `Cc: ${options.cc}\r\n` : '') +
    (options.replyTo ? `Reply-To: ${options.replyTo}\r\n` : '') +
    `Subject: ${options.subject ?? 'Hello'}\r\n` +
    'Message-ID: <t1@example.org>\r\nMIME-Version: 1.0\r\n';
  const text = options.text ?? 'Hello Bob,\r\nsee attached.\r\n';
  if (!options.attachments?.length) {
    return Buffer.from(`${head}Content-Type: text/plain; charset=utf-8\r\n\r\n${text}`, 'utf8');
  }
  const b = 'b1_boundary';
  let out = `${head}Content-Type: multipart/mixed; boundary="${b}"\r\n\r\nThis is MIME.\r\n`;
  out += `--${b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text}\r\n`;
  for (const a of options.attachments) {
    const encoded = a.data.toString('base64').replace(/.{76}(?=.)/g, '$&\r\n');
    out +=
      `--${b}\r\nContent-Type: ${a.type ?? 'application/octet-stream'}; name="${a.name}"\r\n` +
      `Content-Disposition: attachment; filename="${a.name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${encoded}\r\n`;
  }
  return Buffer.from(`${out}--${b}--\r\n`, 'utf8');
}
