import { lzma } from '@napi-rs/lzma';

/**
 * Member listings of RAR (4.x and 5.0) and 7z archives from their headers only, written against
 * the format descriptions (RAR 5.0 "RAR 5.0 archive format", RAR 1.5-4.x "technote", 7-Zip's
 * 7zFormat.txt). Nothing is extracted: names, sizes and whether a member is encrypted. Parsing is
 * bounded: at most ARCHIVE_LIMITS.members members, header bytes at most ARCHIVE_LIMITS.headerBytes,
 * every count checked against the bytes that are left. An archive whose names cannot be read
 * (encrypted headers, a header coded other than with LZMA, damaged) is `unlisted`; rules can act
 * on that (attachment: { unlisted: true }), and one with encrypted headers is `encrypted` too.
 */

export const ARCHIVE_LIMITS = {
  members: 1_000,
  /** A 7z header (decoded) larger than this is not read. */
  headerBytes: 1024 * 1024,
  /** RAR blocks walked at most (files, service blocks, others). */
  blocks: 4_000,
} as const;

export interface ListedMember {
  /** The path in the archive; a directory ends with '/'. */
  name: string;
  encrypted: boolean;
  size: number;
}

export interface ArchiveListing {
  members: ListedMember[];
  /** The member names could not be read (all or some of them). */
  unlisted: boolean;
  /** The archive's headers are encrypted (its names are hidden behind a password). */
  encrypted: boolean;
}

class Truncated extends Error {}

/** A bounded cursor over a buffer; every read past the end throws Truncated. */
class Cursor {
  readonly end: number;
  constructor(
    readonly data: Buffer,
    public at = 0,
    end = data.length,
  ) {
    // Never past the data, whatever a header claims.
    this.end = Math.min(end, data.length);
  }
  get left(): number {
    return this.end - this.at;
  }
  need(n: number): void {
    if (n < 0 || this.at < 0 || this.at + n > this.end) throw new Truncated();
  }
  u8(): number {
    this.need(1);
    return this.data[this.at++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.data.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.data.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = this.data.readBigUInt64LE(this.at);
    this.at += 8;
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = this.data.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  skip(n: number): void {
    this.need(n);
    this.at += n;
  }
  /** RAR 5.0 vint: 7 bits a byte, least significant first, high bit = more (at most 10 bytes). */
  vint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return Math.min(value, Number.MAX_SAFE_INTEGER);
      scale *= 128;
    }
    throw new Truncated();
  }
  /** 7z NUMBER: the first byte's leading one bits say how many bytes follow (little endian). */
  number7z(): number {
    const first = this.u8();
    let mask = 0x80;
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if ((first & mask) === 0) {
        value += (first & (mask - 1)) * scale;
        return Math.min(value, Number.MAX_SAFE_INTEGER);
      }
      value += this.u8() * scale;
      scale *= 256;
      mask >>= 1;
    }
    return Math.min(value, Number.MAX_SAFE_INTEGER);
  }
}

const RAR4 = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x00]);
const RAR5 = Buffer.from([0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]);

/** Lists a RAR archive (4.x or 5.0); undefined when it is not one. */
export function listRar(data: Buffer): ArchiveListing | undefined {
  if (data.subarray(0, RAR5.length).equals(RAR5)) return rar5(data);
  if (data.subarray(0, RAR4.length).equals(RAR4)) return rar4(data);
  return undefined;
}

function rar5(data: Buffer): ArchiveListing {
  const listing: ArchiveListing = { members: [], unlisted: false, encrypted: false };
  const c = new Cursor(data, RAR5.length);
  try {
    for (let block = 0; block < ARCHIVE_LIMITS.blocks && c.left > 0; block++) {
      c.u32(); // header CRC32
      const headerSize = c.vint();
      const start = c.at;
      c.need(headerSize);
      const h = new Cursor(data, start, start + headerSize);
      const type = h.vint();
      const flags = h.vint();
      const extraSize = flags & 0x0001 ? h.vint() : 0;
      const dataSize = flags & 0x0002 ? h.vint() : 0;
      if (type === 4) return { ...listing, unlisted: true, encrypted: true }; // archive encryption header
      if (type === 5) return listing; // end of archive
      if (type === 2) {
        if (listing.members.length >= ARCHIVE_LIMITS.members) return { ...listing, unlisted: true };
        const fileFlags = h.vint();
        const size = h.vint();
        h.vint(); // attributes
        if (fileFlags & 0x0002) h.skip(4); // mtime
        if (fileFlags & 0x0004) h.skip(4); // data CRC32
        h.vint(); // compression information
        h.vint(); // host OS
        const nameLength = h.vint();
        const name = h.bytes(nameLength).toString('utf8');
        let encrypted = false;
        if (extraSize > headerSize) throw new Truncated();
        // The extra area is the last extraSize bytes of the header: records of size, type, data.
        const extra = new Cursor(data, start + headerSize - extraSize, start + headerSize);
        while (extra.left > 0) {
          const recordSize = extra.vint();
          const recordStart = extra.at;
          extra.need(recordSize);
          if (new Cursor(data, recordStart, recordStart + recordSize).vint() === 0x01) encrypted = true;
          extra.at = recordStart + recordSize;
        }
        listing.members.push({ name: fileFlags & 0x0001 ? `${name}/` : name, encrypted, size });
      }
      c.at = start + headerSize;
      c.skip(dataSize);
    }
  } catch (error) {
    if (!(error instanceof Truncated)) throw error;
    return { ...listing, unlisted: true };
  }
  // No end-of-archive block within the limits: what was found, marked as not all.
  return { ...listing, unlisted: true };
}

function rar4(data: Buffer): ArchiveListing {
  const listing: ArchiveListing = { members: [], unlisted: false, encrypted: false };
  const c = new Cursor(data, 0);
  try {
    for (let block = 0; block < ARCHIVE_LIMITS.blocks && c.left > 0; block++) {
      const start = c.at;
      c.u16(); // HEAD_CRC
      const type = c.u8();
      const flags = c.u16();
      const headSize = c.u16();
      if (headSize < 7) throw new Truncated();
      let addSize = flags & 0x8000 ? c.u32() : 0;
      if (type === 0x73 && flags & 0x0080) return { ...listing, unlisted: true, encrypted: true }; // headers encrypted
      if (type === 0x7b) return listing; // end of archive
      if (type === 0x74) {
        if (listing.members.length >= ARCHIVE_LIMITS.members) return { ...listing, unlisted: true };
        const h = new Cursor(data, start + 7, start + headSize);
        const packLow = h.u32();
        const unpackLow = h.u32();
        h.skip(1 + 4 + 4 + 1 + 1); // HOST_OS, FILE_CRC, FTIME, UNP_VER, METHOD
        const nameSize = h.u16();
        h.u32(); // ATTR
        let packHigh = 0;
        let unpackHigh = 0;
        if (flags & 0x0100) {
          packHigh = h.u32();
          unpackHigh = h.u32();
        }
        const raw = h.bytes(nameSize);
        // A Unicode name (0x200) is the plain name, a zero byte, then its encoded form.
        const zero = raw.indexOf(0);
        const plain = flags & 0x0200 && zero >= 0 ? raw.subarray(0, zero) : raw;
        const name = plain.toString(flags & 0x0200 && zero < 0 ? 'utf8' : 'latin1').replace(/\\/g, '/');
        const directory = (flags & 0x00e0) === 0x00e0;
        listing.members.push({
          name: directory ? `${name}/` : name,
          encrypted: (flags & 0x0004) !== 0,
          size: unpackHigh * 2 ** 32 + unpackLow,
        });
        addSize = packHigh * 2 ** 32 + packLow;
      }
      c.at = start;
      c.skip(headSize);
      c.skip(addSize);
    }
  } catch (error) {
    if (!(error instanceof Truncated)) throw error;
    return { ...listing, unlisted: true };
  }
  return { ...listing, unlisted: true };
}

const SEVEN_Z = Buffer.from([0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]);

/** 7z property ids (7zFormat.txt). */
const K = {
  end: 0x00,
  header: 0x01,
  archiveProperties: 0x02,
  additionalStreamsInfo: 0x03,
  mainStreamsInfo: 0x04,
  filesInfo: 0x05,
  packInfo: 0x06,
  unpackInfo: 0x07,
  subStreamsInfo: 0x08,
  size: 0x09,
  crc: 0x0a,
  folder: 0x0b,
  codersUnpackSize: 0x0c,
  numUnpackStream: 0x0d,
  emptyStream: 0x0e,
  emptyFile: 0x0f,
  name: 0x11,
  winAttributes: 0x15,
  encodedHeader: 0x17,
  dummy: 0x19,
} as const;

const CODER_LZMA = '030101';
const CODER_AES = '06f10701';

interface Folder {
  coders: Array<{ id: string; properties: Buffer }>;
  unpackSizes: number[];
  crcDefined: boolean;
}

interface Streams {
  packPos: number;
  packSizes: number[];
  folders: Folder[];
  /** Per folder: how many files (substreams) it holds, and their sizes. */
  substreams: number[][];
}

class Unlisted extends Error {
  constructor(readonly encrypted = false) {
    super('unlisted');
  }
}

/**
 * Lists a 7z archive; undefined when it is not one. A decoded header is charged to `budget` (the
 * message's inflate budget, shared by all its archives); one larger than what is left is unlisted.
 */
export function list7z(
  data: Buffer,
  budget: { bytes: number } = { bytes: Infinity },
): ArchiveListing | undefined {
  if (!data.subarray(0, SEVEN_Z.length).equals(SEVEN_Z)) return undefined;
  try {
    const start = new Cursor(data, 12);
    const nextOffset = start.u64();
    const nextSize = start.u64();
    if (nextSize > ARCHIVE_LIMITS.headerBytes) throw new Unlisted();
    const headerStart = 32 + nextOffset;
    if (headerStart + nextSize > data.length) throw new Unlisted();
    let header = data.subarray(headerStart, headerStart + nextSize);
    // An encoded header: the real header is a packed stream (usually LZMA), described here.
    for (let depth = 0; header[0] === K.encodedHeader; depth++) {
      if (depth > 2) throw new Unlisted();
      const c = new Cursor(header, 1);
      header = decodeHeader(data, streamsInfo(c), budget);
    }
    const c = new Cursor(header);
    if (c.u8() !== K.header) throw new Unlisted();
    return filesOf(c);
  } catch (error) {
    if (error instanceof Unlisted) return { members: [], unlisted: true, encrypted: error.encrypted };
    if (error instanceof Truncated) return { members: [], unlisted: true, encrypted: false };
    throw error;
  }
}

function decodeHeader(data: Buffer, streams: Streams, budget: { bytes: number }): Buffer {
  const folder = streams.folders[0];
  if (!folder || streams.folders.length !== 1) throw new Unlisted();
  if (folder.coders.some((coder) => coder.id === CODER_AES)) throw new Unlisted(true);
  const coder = folder.coders[0];
  if (folder.coders.length !== 1 || coder?.id !== CODER_LZMA || coder.properties.length !== 5)
    throw new Unlisted();
  const unpackSize = folder.unpackSizes[0] ?? 0;
  const packSize = streams.packSizes[0] ?? 0;
  const packStart = 32 + streams.packPos;
  if (
    unpackSize > ARCHIVE_LIMITS.headerBytes ||
    unpackSize > budget.bytes ||
    packStart + packSize > data.length
  )
    throw new Unlisted();
  // The .lzma ("alone") form the decoder reads: properties, the unpacked size, the stream. The
  // dictionary never needs to be larger than the output: a claimed larger one (up to 4 GiB) is
  // cut to that, so the decoder's memory is bounded by the header limit too.
  const properties = Buffer.from(coder.properties);
  const dictionary = Math.max(4096, unpackSize);
  if (properties.readUInt32LE(1) > dictionary) properties.writeUInt32LE(dictionary, 1);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(unpackSize));
  let decoded: Buffer;
  try {
    decoded = lzma.decompressSync(
      Buffer.concat([properties, size, data.subarray(packStart, packStart + packSize)]),
    );
  } catch {
    throw new Unlisted();
  }
  if (decoded.length > ARCHIVE_LIMITS.headerBytes) throw new Unlisted();
  budget.bytes -= decoded.length;
  return decoded;
}

/** A 7z bit field of n bits, most significant bit first. */
function bitField(c: Cursor, n: number): boolean[] {
  c.need(Math.ceil(n / 8));
  const bits: boolean[] = [];
  for (let i = 0; i < n; i++) bits.push(((c.data[c.at + (i >> 3)]! >> (7 - (i & 7))) & 1) === 1);
  c.at += Math.ceil(n / 8);
  return bits;
}

/** Digests: all defined, or a bit field; then a CRC32 for each defined one. */
function digests(c: Cursor, n: number): boolean[] {
  const allDefined = c.u8();
  const defined = allDefined ? new Array<boolean>(n).fill(true) : bitField(c, n);
  c.skip(4 * defined.filter(Boolean).length);
  return defined;
}

/** A count that must fit in the bytes left (each item takes at least one byte). */
function count(c: Cursor, perItem = 1): number {
  const n = c.number7z();
  if (n * perItem > c.left) throw new Truncated();
  return n;
}

function streamsInfo(c: Cursor): Streams {
  const streams: Streams = { packPos: 0, packSizes: [], folders: [], substreams: [] };
  for (;;) {
    const id = c.u8();
    if (id === K.end) break;
    if (id === K.packInfo) {
      streams.packPos = c.number7z();
      const n = count(c);
      for (let p = c.u8(); p !== K.end; p = c.u8()) {
        if (p === K.size) for (let i = 0; i < n; i++) streams.packSizes.push(c.number7z());
        else if (p === K.crc) digests(c, n);
        else throw new Unlisted();
      }
    } else if (id === K.unpackInfo) {
      if (c.u8() !== K.folder) throw new Unlisted();
      const n = count(c);
      if (c.u8() !== 0) throw new Unlisted(); // external
      for (let i = 0; i < n; i++) streams.folders.push(folder(c));
      if (c.u8() !== K.codersUnpackSize) throw new Unlisted();
      for (const f of streams.folders)
        for (let i = 0; i < f.unpackSizes.length; i++) f.unpackSizes[i] = c.number7z();
      for (let p = c.u8(); p !== K.end; p = c.u8()) {
        if (p !== K.crc) throw new Unlisted();
        const defined = digests(c, streams.folders.length);
        streams.folders.forEach((f, i) => {
          f.crcDefined = defined[i] ?? false;
        });
      }
    } else if (id === K.subStreamsInfo) {
      streams.substreams = subStreams(c, streams.folders);
    } else throw new Unlisted();
  }
  if (streams.substreams.length === 0)
    streams.substreams = streams.folders.map((f) => [f.unpackSizes[f.unpackSizes.length - 1] ?? 0]);
  return streams;
}

function folder(c: Cursor): Folder {
  const n = count(c);
  if (n > 64) throw new Unlisted();
  const coders: Folder['coders'] = [];
  let inStreams = 0;
  let outStreams = 0;
  for (let i = 0; i < n; i++) {
    const flags = c.u8();
    const id = c.bytes(flags & 0x0f).toString('hex');
    if (flags & 0x10) {
      inStreams += count(c);
      outStreams += count(c);
    } else {
      inStreams += 1;
      outStreams += 1;
    }
    const properties = flags & 0x20 ? c.bytes(count(c)) : Buffer.alloc(0);
    coders.push({ id, properties });
  }
  if (outStreams > 64 || inStreams > 64) throw new Unlisted();
  const bindPairs = outStreams - 1;
  for (let i = 0; i < bindPairs; i++) {
    c.number7z();
    c.number7z();
  }
  const packed = inStreams - bindPairs;
  if (packed > 1) for (let i = 0; i < packed; i++) c.number7z();
  return { coders, unpackSizes: new Array<number>(outStreams).fill(0), crcDefined: false };
}

function subStreams(c: Cursor, folders: Folder[]): number[][] {
  let perFolder = folders.map(() => 1);
  let sizes: number[][] | undefined;
  for (let p = c.u8(); p !== K.end; p = c.u8()) {
    if (p === K.numUnpackStream) {
      perFolder = folders.map(() => c.number7z());
      // Every stream but a folder's last needs its size (a byte at least) further on.
      if (perFolder.reduce((a, b) => a + b, 0) > c.left + folders.length) throw new Truncated();
    } else if (p === K.size) {
      sizes = folders.map((f, i) => {
        const total = f.unpackSizes[f.unpackSizes.length - 1] ?? 0;
        const n = perFolder[i] ?? 0;
        const out: number[] = [];
        let sum = 0;
        for (let k = 0; k < n - 1; k++) {
          const s = c.number7z();
          out.push(s);
          sum += s;
        }
        if (n > 0) out.push(Math.max(0, total - sum));
        return out;
      });
    } else if (p === K.crc) {
      const unknown = folders.reduce(
        (a, f, i) => a + ((perFolder[i] ?? 0) === 1 && f.crcDefined ? 0 : (perFolder[i] ?? 0)),
        0,
      );
      digests(c, unknown);
    } else throw new Unlisted();
  }
  return (
    sizes ??
    folders.map((f, i) => {
      const n = perFolder[i] ?? 0;
      // Without sizes, a folder holds one stream of the folder's size (or none).
      return n === 1 ? [f.unpackSizes[f.unpackSizes.length - 1] ?? 0] : new Array<number>(n).fill(0);
    })
  );
}

function filesOf(c: Cursor): ArchiveListing {
  let streams: Streams = { packPos: 0, packSizes: [], folders: [], substreams: [] };
  let id = c.u8();
  if (id === K.archiveProperties) {
    for (let t = c.u8(); t !== K.end; t = c.u8()) c.skip(count(c));
    id = c.u8();
  }
  if (id === K.additionalStreamsInfo) {
    streamsInfo(c);
    id = c.u8();
  }
  if (id === K.mainStreamsInfo) {
    streams = streamsInfo(c);
    id = c.u8();
  }
  if (id === K.end) return { members: [], unlisted: false, encrypted: false };
  if (id !== K.filesInfo) throw new Unlisted();
  const n = count(c);
  let emptyStream: boolean[] = new Array<boolean>(n).fill(false);
  let emptyFile: boolean[] = [];
  let names: string[] = [];
  let directoryAttribute: boolean[] = [];
  for (let type = c.u8(); type !== K.end; type = c.u8()) {
    const size = count(c);
    const p = new Cursor(c.data, c.at, c.at + size);
    c.skip(size);
    if (type === K.emptyStream) emptyStream = bitField(p, n);
    else if (type === K.emptyFile) emptyFile = bitField(p, emptyStream.filter(Boolean).length);
    else if (type === K.name) {
      if (p.u8() !== 0) throw new Unlisted(); // names in an external stream
      names = p.bytes(p.left).toString('utf16le').split('\0').slice(0, n);
    } else if (type === K.winAttributes) {
      const defined = p.u8() ? new Array<boolean>(n).fill(true) : bitField(p, n);
      if (p.u8() !== 0) throw new Unlisted();
      directoryAttribute = defined.map((d) => d && (p.u32() & 0x10) !== 0);
    }
  }
  // Files with a stream take the folders' substreams in order; a folder with AES is encrypted.
  const streamsOf: Array<{ size: number; encrypted: boolean }> = [];
  streams.folders.forEach((f, i) => {
    const encrypted = f.coders.some((coder) => coder.id === CODER_AES);
    for (const size of streams.substreams[i] ?? []) streamsOf.push({ size, encrypted });
  });
  const members: ListedMember[] = [];
  let next = 0;
  let empty = 0;
  for (let i = 0; i < n && members.length < ARCHIVE_LIMITS.members; i++) {
    const name = (names[i] ?? '').replace(/\\/g, '/');
    if (emptyStream[i]) {
      const isFile = emptyFile[empty++] ?? false;
      const directory = !isFile || directoryAttribute[i] === true;
      members.push({ name: directory ? `${name}/` : name, encrypted: false, size: 0 });
    } else {
      const stream = streamsOf[next++];
      members.push({ name, encrypted: stream?.encrypted ?? false, size: stream?.size ?? 0 });
    }
  }
  return { members, unlisted: n > members.length || names.length < n, encrypted: false };
}
