// RAR archives built by hand after the format descriptions (there is no free rar writer): the
// blocks the listing reads, with stored data. CRCs are computed as the formats define them.
import { crc32 } from 'node:zlib';

export interface RarEntry {
  name: string;
  data?: Buffer;
  directory?: boolean;
  /** RAR 5.0: a file encryption extra record; RAR 4: the password flag (0x04). */
  encrypted?: boolean;
}

/** RAR 5.0 vint: 7 bits a byte, least significant first. */
function vint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function rar5Block(
  type: number,
  fields: Buffer[],
  extra: Buffer = Buffer.alloc(0),
  data: Buffer = Buffer.alloc(0),
): Buffer {
  const flags = (extra.length > 0 ? 0x0001 : 0) | (data.length > 0 ? 0x0002 : 0);
  const header = Buffer.concat([
    vint(type),
    vint(flags),
    ...(extra.length > 0 ? [vint(extra.length)] : []),
    ...(data.length > 0 ? [vint(data.length)] : []),
    ...fields,
    extra,
  ]);
  const sized = Buffer.concat([vint(header.length), header]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(sized));
  return Buffer.concat([crc, sized, data]);
}

/** A RAR 5.0 archive; `encryptedHeaders` puts an archive encryption header first (names hidden). */
export function makeRar5(
  entries: RarEntry[],
  options: { encryptedHeaders?: boolean; noEnd?: boolean } = {},
): Buffer {
  const parts: Buffer[] = [Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00])];
  if (options.encryptedHeaders)
    parts.push(rar5Block(4, [vint(0), vint(0), Buffer.from([15]), Buffer.alloc(16, 7), Buffer.alloc(16, 9)]));
  parts.push(rar5Block(1, [vint(0)])); // main archive header, no flags
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(e.name, 'utf8');
    const fields = [
      vint(e.directory ? 0x0001 : 0x0004), // directory, or data CRC32 present
      vint(data.length),
      vint(0x20), // attributes
      ...(e.directory
        ? []
        : [
            (() => {
              const b = Buffer.alloc(4);
              b.writeUInt32LE(crc32(data));
              return b;
            })(),
          ]),
      vint(0), // compression: version 0, stored
      vint(1), // host OS: Unix
      vint(name.length),
      name,
    ];
    // File encryption record: size, type 1, version 0, flags 0, KDF count, salt, IV.
    const record = Buffer.concat([
      vint(1),
      vint(0),
      vint(0),
      Buffer.from([15]),
      Buffer.alloc(16, 1),
      Buffer.alloc(16, 2),
    ]);
    const extra = e.encrypted ? Buffer.concat([vint(record.length), record]) : Buffer.alloc(0);
    parts.push(rar5Block(2, fields, extra, data));
  }
  if (!options.noEnd) parts.push(rar5Block(5, [vint(0)]));
  return Buffer.concat(parts);
}

function rar4Block(type: number, flags: number, body: Buffer, data: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(7);
  head.writeUInt8(type, 2);
  head.writeUInt16LE(flags | (data.length > 0 || type === 0x74 ? 0x8000 : 0), 3);
  head.writeUInt16LE(7 + body.length, 5);
  const block = Buffer.concat([head, body]);
  block.writeUInt16LE(crc32(block.subarray(2)) & 0xffff, 0);
  return Buffer.concat([block, data]);
}

/** A RAR 1.5-4.x archive; `encryptedHeaders` sets the archive header's block-encryption flag. */
export function makeRar4(entries: RarEntry[], options: { encryptedHeaders?: boolean } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00])];
  parts.push(rar4Block(0x73, options.encryptedHeaders ? 0x0080 : 0, Buffer.alloc(6)));
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const ascii = Buffer.from(e.name.replace(/\//g, '\\'), 'latin1');
    const unicode = /[^\x20-\x7e]/.test(e.name);
    // A Unicode name: the plain form, a zero byte, then the encoded form (here simply UTF-8 bytes).
    const name = unicode ? Buffer.concat([ascii, Buffer.from([0]), Buffer.from(e.name, 'utf8')]) : ascii;
    const body = Buffer.alloc(25);
    body.writeUInt32LE(data.length, 0); // PACK_SIZE
    body.writeUInt32LE(data.length, 4); // UNP_SIZE
    body.writeUInt8(3, 8); // HOST_OS: Unix
    body.writeUInt32LE(crc32(data), 9);
    body.writeUInt8(29, 17); // UNP_VER
    body.writeUInt8(0x30, 18); // METHOD: store
    body.writeUInt16LE(name.length, 19);
    const flags = (e.encrypted ? 0x0004 : 0) | (e.directory ? 0x00e0 : 0) | (unicode ? 0x0200 : 0);
    parts.push(rar4Block(0x74, flags, Buffer.concat([body, name]), data));
  }
  parts.push(rar4Block(0x7b, 0x4000, Buffer.alloc(0)));
  return Buffer.concat(parts);
}
