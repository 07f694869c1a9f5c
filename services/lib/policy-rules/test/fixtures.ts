import { crc32, deflateRawSync } from 'node:zlib';
import {
  evaluatePolicy,
  messageFacts,
  type PolicyContext,
  PolicySet,
  parsePolicyRules,
} from '../src/index.js';

export interface ZipEntry {
  name: string;
  data: Buffer;
  /** Sets the traditional encryption flag (the content is then not readable, as in a real one). */
  encrypted?: boolean;
  /** Sets the encryption flag in the local header only (the central directory's says not encrypted). */
  encryptedLocally?: boolean;
  deflate?: boolean;
}

/**
 * A minimal zip writer for tests (local headers, central directory, end record). With `zip64`,
 * as writers do for large archives (and some always, streaming): the central directory's sizes
 * and offsets in zip64 extra fields, and the zip64 end record and locator before the end record,
 * whose own counts and offset say "see zip64".
 */
export function makeZip(entries: ZipEntry[], options: { zip64?: boolean } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const body = e.deflate ? deflateRawSync(e.data) : e.data;
    const flags = (e.encrypted ? 1 : 0) | 0x800;
    const localFlags = flags | (e.encryptedLocally ? 1 : 0);
    const method = e.deflate ? 8 : 0;
    const crc = crc32(e.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(localFlags, 6);
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
    let extra = Buffer.alloc(0);
    if (options.zip64) {
      extra = Buffer.alloc(4 + 24);
      extra.writeUInt16LE(0x0001, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(body.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
      central.writeUInt32LE(0xffffffff, 20);
      central.writeUInt32LE(0xffffffff, 24);
      central.writeUInt32LE(0xffffffff, 42);
      central.writeUInt16LE(extra.length, 30);
    }
    locals.push(local, name, body);
    centrals.push(central, name, extra);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  if (!options.zip64) return Buffer.concat([...locals, cd, end]);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries.length), 24);
  record.writeBigUInt64LE(BigInt(entries.length), 32);
  record.writeBigUInt64LE(BigInt(cd.length), 40);
  record.writeBigUInt64LE(BigInt(offset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(offset + cd.length), 8);
  locator.writeUInt32LE(1, 16);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...locals, cd, record, locator, end]);
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

export interface CfbEntry {
  name: string;
  type: 'storage' | 'stream';
  data?: Buffer;
}

/**
 * A minimal OLE compound file (MS-CFB version 3, 512-byte sectors) written by hand: one FAT
 * sector, the directory (root entry and the given entries, all children of the root as a chain
 * of right siblings), and each stream's data in its own sectors (padded to 4096 bytes, so no
 * stream lives in the mini stream). What a legacy .doc or .xls is made of.
 */
export function makeCfb(entries: CfbEntry[]): Buffer {
  const SECTOR = 512;
  const FREE = 0xffffffff;
  const END = 0xfffffffe;
  const FAT_SECTOR = 0xfffffffd;
  const all = [{ name: 'Root Entry', type: 'root' as const }, ...entries];
  const dirSectors = Math.ceil(all.length / 4);
  const fat: number[] = [FAT_SECTOR];
  const dirStart = fat.length;
  for (let i = 0; i < dirSectors; i++) fat.push(i === dirSectors - 1 ? END : dirStart + i + 1);
  const streams: Array<{ start: number; data: Buffer }> = [];
  for (const e of entries) {
    if (e.type !== 'stream') continue;
    const data = Buffer.concat([
      e.data ?? Buffer.alloc(0),
      Buffer.alloc(Math.max(0, 4096 - (e.data?.length ?? 0))),
    ]);
    const start = fat.length;
    const count = Math.ceil(data.length / SECTOR);
    for (let i = 0; i < count; i++) fat.push(i === count - 1 ? END : start + i + 1);
    streams.push({ start, data: Buffer.concat([data, Buffer.alloc(count * SECTOR - data.length)]) });
  }
  if (fat.length > SECTOR / 4) throw new Error('makeCfb: too many sectors for one FAT sector');
  const header = Buffer.alloc(SECTOR);
  Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]).copy(header, 0);
  header.writeUInt16LE(0x3e, 0x18);
  header.writeUInt16LE(3, 0x1a);
  header.writeUInt16LE(0xfffe, 0x1c);
  header.writeUInt16LE(9, 0x1e);
  header.writeUInt16LE(6, 0x20);
  header.writeUInt32LE(1, 0x2c);
  header.writeUInt32LE(dirStart, 0x30);
  header.writeUInt32LE(4096, 0x38);
  header.writeUInt32LE(END, 0x3c);
  header.writeUInt32LE(END, 0x44);
  for (let i = 0; i < 109; i++) header.writeUInt32LE(i === 0 ? 0 : FREE, 0x4c + 4 * i);
  const fatSector = Buffer.alloc(SECTOR, 0xff);
  for (const [i, v] of fat.entries()) fatSector.writeUInt32LE(v, 4 * i);
  const dir = Buffer.alloc(dirSectors * SECTOR);
  let stream = 0;
  all.forEach((e, i) => {
    const at = i * 128;
    const name = Buffer.from(`${e.name}\0`, 'utf16le');
    name.copy(dir, at);
    dir.writeUInt16LE(name.length, at + 0x40);
    dir[at + 0x42] = e.type === 'root' ? 5 : e.type === 'storage' ? 1 : 2;
    dir[at + 0x43] = 1;
    dir.writeUInt32LE(FREE, at + 0x44);
    dir.writeUInt32LE(i > 0 && i < all.length - 1 ? i + 1 : FREE, at + 0x48);
    dir.writeUInt32LE(i === 0 && all.length > 1 ? 1 : FREE, at + 0x4c);
    if (e.type === 'stream') {
      const s = streams[stream++]!;
      dir.writeUInt32LE(s.start, at + 0x74);
      dir.writeUInt32LE(s.data.length, at + 0x78);
    } else dir.writeUInt32LE(e.type === 'root' ? END : 0, at + 0x74);
  });
  return Buffer.concat([header, fatSector, dir, ...streams.map((s) => s.data)]);
}

/**
 * The terminal verdict of the default rules (encrypted archives blocked) and a global rule
 * quarantining archives that could not be listed (`no-unlisted-archives`), on a message with one
 * attachment, inbound.
 */
export function defaultRulesVerdict(name: string, data: Buffer, type?: string) {
  const ctx: PolicyContext = {
    direction: 'inbound',
    mailFrom: 'alice@example.org',
    recipients: ['bob@example.com'],
    clientAddress: '192.0.2.10',
    auth: { spf: 'pass', dkim: 'pass', dmarc: 'pass' },
    spamScore: 0,
  };
  const set = new PolicySet({
    global: parsePolicyRules([
      {
        name: 'no-unlisted-archives',
        all: [{ attachment: { unlisted: true, encrypted: false } }],
        action: { quarantine: 'archive could not be listed' },
      },
    ]),
    defaults: { enabled: true, blockEncryptedArchives: true },
    domainRules: () => undefined,
  });
  const message = makeMessage({ attachments: [{ name, data, ...(type ? { type } : {}) }] });
  return evaluatePolicy(set.rulesFor(['example.com']), messageFacts(message), ctx).terminal;
}

/** A file uuencoded as mail clients show it (`begin 644 <name>` ... `end`), lines joined by CRLF. */
export function uuencode(name: string, data: Buffer): string {
  const char = (v: number) => (v === 0 ? '`' : String.fromCharCode(32 + v));
  const lines = [`begin 644 ${name}`];
  for (let at = 0; at < data.length; at += 45) {
    const chunk = data.subarray(at, at + 45);
    let line = char(chunk.length);
    for (let i = 0; i < chunk.length; i += 3) {
      const [a = 0, b = 0, c = 0] = [chunk[i], chunk[i + 1], chunk[i + 2]];
      line += [a >> 2, ((a & 3) << 4) | (b >> 4), ((b & 15) << 2) | (c >> 6), c & 63].map(char).join('');
    }
    lines.push(line);
  }
  return [...lines, '`', 'end'].join('\r\n');
}
