import { inflateRawSync } from 'node:zlib';
import { list7z, listRar } from './archives.js';
import type { AttachmentKind } from './schema.js';
import { isTar, listGzip, listTar } from './tar-gzip.js';
import { isTnef, listTnef } from './tnef.js';

/**
 * What an attachment is, from its bytes: magic numbers for executables and containers, the zip
 * central directory for OOXML (vbaProject.bin = macros), Java archives and listing, the OLE
 * compound file's directory names for legacy Office macros. Text content is a script when it
 * starts with #! or its name has a script extension (text cannot be told apart otherwise).
 */

/** Extensions that run code when opened on a desktop. */
export const EXECUTABLE_EXTENSIONS: ReadonlySet<string> = new Set([
  'exe',
  'scr',
  'com',
  'pif',
  'cpl',
  'dll',
  'msi',
  'msp',
  'jar',
  'lnk',
  'reg',
  'application',
  'gadget',
  'msc',
  'scf',
  'hta',
  // Help files, Excel add-ins, app packages, Java Web Start, scriptlets.
  'chm',
  'xll',
  'msix',
  'msixbundle',
  'appx',
  'appxbundle',
  'jnlp',
  'sct',
  // Disk images Windows mounts on a double click; the files in them lose the mark of the web.
  'iso',
  'img',
  'vhd',
  'vhdx',
]);

export const SCRIPT_EXTENSIONS: ReadonlySet<string> = new Set([
  'js',
  'jse',
  'vbs',
  'vbe',
  'vb',
  'wsf',
  'wsh',
  'wsc',
  'bat',
  'cmd',
  'ps1',
  'psm1',
  'sh',
]);

/** Limits of archive inspection (a zip bomb costs at most this). */
export const SNIFF_LIMITS = {
  archiveMembers: 1_000,
  /** Bytes a member is inflated to at most, to sniff it (larger members are judged by name). */
  memberBytes: 8 * 1024 * 1024,
  /**
   * Bytes inflated in all for one message's archives, nested ones included (zip members past it
   * are judged by name; 7z headers decoded count too): without it, 1000 members of 8 MiB would be
   * 8 GiB in memory.
   */
  inflatedBytes: 64 * 1024 * 1024,
  /** Archives inside archives are listed down to this depth (an archive attached to the message is 1). */
  archiveDepth: 4,
} as const;

/** What is left of the inflate budget of one message (shared by its archives, nested ones too). */
export interface InflateBudget {
  bytes: number;
}

export const newInflateBudget = (): InflateBudget => ({ bytes: SNIFF_LIMITS.inflatedBytes });

export interface ArchiveMember {
  name: string;
  encrypted: boolean;
  size: number;
  /** The member's content when it could be read (stored, or deflated within the limits). */
  content?: Buffer;
}

export interface Sniffed {
  kind: AttachmentKind;
  /** Members of an archive (zip, rar, 7z, tar, gzip; one level) or a TNEF's files, when the part is one. */
  members?: ArchiveMember[];
  /** An archive whose member names could not be read (all or some: encrypted or undecodable headers, damage). */
  unlisted?: boolean;
  /**
   * An archive whose headers are encrypted (its names are behind a password), or a
   * password-protected Office document.
   */
  encrypted?: boolean;
}

const startsWith = (data: Buffer, bytes: number[], at = 0) =>
  data.length >= at + bytes.length && bytes.every((b, i) => data[at + i] === b);

const OLE = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];
const utf16 = (s: string) => Buffer.from(s, 'utf16le');
/** Storage names of VBA projects in an OLE compound file (Word: Macros/VBA, Excel: _VBA_PROJECT_CUR). */
const OLE_MACRO_NAMES = [utf16('_VBA_PROJECT'), utf16('VBA_PROJECT'), utf16('Macros')];
/** Directory entries that hold a VBA project: storages Macros (Word), _VBA_PROJECT_CUR (Excel), VBA; stream _VBA_PROJECT. */
const OLE_MACRO_STORAGES: ReadonlySet<string> = new Set(['macros', '_vba_project_cur', 'vba']);
const OLE_MACRO_STREAMS: ReadonlySet<string> = new Set(['_vba_project']);

const OLE_END_OF_CHAIN = 0xfffffffe;
const OLE_STORAGE = 1;
const OLE_STREAM = 2;
const OLE_ROOT = 5;

/**
 * The directory entries (name, type) of an OLE compound file (MS-CFB): the FAT from the header's
 * DIFAT (and its chain), then the directory's sector chain. Undefined when the file is cut short
 * or damaged; every chain is bounded by the file's size.
 */
interface OleEntry {
  name: string;
  type: number;
  /** A stream's first sector and size (in the FAT when size >= the mini stream cutoff). */
  start: number;
  size: number;
}

/** The header's mini stream cutoff: streams smaller than it live in the mini stream. */
const oleMiniCutoff = (data: Buffer) => data.readUInt32LE(0x38);

function oleDirectory(data: Buffer): OleEntry[] | undefined {
  if (data.length < 512) return undefined;
  const shift = data.readUInt16LE(0x1e);
  if (shift !== 9 && shift !== 12) return undefined;
  const size = 1 << shift;
  const perSector = size / 4;
  const offsetOf = (sector: number) => (sector + 1) * size;
  const inFile = (offset: number, length: number) => offset + length <= data.length;
  const maxSectors = Math.ceil(data.length / size);
  const fatCount = Math.min(data.readUInt32LE(0x2c), maxSectors);
  const fat: number[] = [];
  for (let i = 0; i < 109 && fat.length < fatCount; i++) fat.push(data.readUInt32LE(0x4c + 4 * i));
  let difat = data.readUInt32LE(0x44);
  for (let hops = 0; fat.length < fatCount && difat < 0xfffffffa && hops < maxSectors; hops++) {
    const at = offsetOf(difat);
    if (!inFile(at, size)) return undefined;
    for (let i = 0; i < perSector - 1 && fat.length < fatCount; i++) fat.push(data.readUInt32LE(at + 4 * i));
    difat = data.readUInt32LE(at + size - 4);
  }
  const next = (sector: number): number | undefined => {
    const fatSector = fat[Math.floor(sector / perSector)];
    if (fatSector === undefined) return undefined;
    const at = offsetOf(fatSector) + (sector % perSector) * 4;
    return inFile(at, 4) ? data.readUInt32LE(at) : undefined;
  };
  const entries: OleEntry[] = [];
  const seen = new Set<number>();
  for (let sector = data.readUInt32LE(0x30); sector !== OLE_END_OF_CHAIN; ) {
    const at = offsetOf(sector);
    if (seen.has(sector) || !inFile(at, size)) return undefined;
    seen.add(sector);
    for (let entry = at; entry < at + size; entry += 128) {
      const length = data.readUInt16LE(entry + 0x40);
      const type = data[entry + 0x42]!;
      // The directory starts with the root entry; anything else is not a directory.
      if (entry === offsetOf(data.readUInt32LE(0x30)) && type !== OLE_ROOT) return undefined;
      if (length < 2 || length > 64 || (type !== OLE_STORAGE && type !== OLE_STREAM)) continue;
      entries.push({
        name: data.subarray(entry, entry + length - 2).toString('utf16le'),
        type,
        start: data.readUInt32LE(entry + 0x74),
        size: data.readUInt32LE(entry + 0x78),
      });
    }
    const following = next(sector);
    if (following === undefined) return undefined;
    sector = following;
  }
  return entries;
}

/**
 * Whether an OLE compound file carries a VBA project: by its directory's entry names, so text in
 * a document's streams ("Macros" in a Word file about macros) does not count. A file whose
 * directory cannot be read (cut short) is searched for the names anywhere instead.
 */
function oleHasMacros(data: Buffer, entries: OleEntry[] | undefined): boolean {
  if (!entries) return OLE_MACRO_NAMES.some((n) => data.includes(n));
  return entries.some(({ name, type }) => {
    const lower = name.toLowerCase();
    return type === OLE_STORAGE ? OLE_MACRO_STORAGES.has(lower) : OLE_MACRO_STREAMS.has(lower);
  });
}

/**
 * The first sector of a stream in the FAT (the beginning of a WordDocument or Workbook stream);
 * undefined for a stream in the mini stream or outside the file.
 */
function oleStreamHead(data: Buffer, entry: OleEntry): Buffer | undefined {
  if (entry.size < oleMiniCutoff(data) || entry.start >= 0xfffffffa) return undefined;
  const size = 1 << data.readUInt16LE(0x1e);
  const at = (entry.start + 1) * size;
  if (at + size > data.length) return undefined;
  return data.subarray(at, at + Math.min(size, entry.size));
}

/** OOXML encrypted with a password (MS-OFFCRYPTO) is an OLE file with these streams. */
const OFFCRYPTO_STREAMS: ReadonlySet<string> = new Set(['encryptioninfo', 'encryptedpackage']);
/** PowerPoint 97-2003 keeps an EncryptedSummary stream in an encrypted presentation. */
const PPT_ENCRYPTED_STREAM = 'encryptedsummary';
/** Word 97-2003: FibBase's fEncrypted flag. */
const FIB_ENCRYPTED = 0x0100;
/** Excel 97-2003 BIFF8 records: BOF, then (after an optional WriteProtect) FilePass when encrypted. */
const BIFF_BOF = 0x0809;
const BIFF_WRITE_PROTECT = 0x0086;
const BIFF_FILEPASS = 0x002f;

/**
 * Whether an Office document in an OLE file is password-protected: the MS-OFFCRYPTO streams
 * (encrypted OOXML), Word's FIB fEncrypted flag, Excel's FilePass record at the start of the
 * workbook globals, PowerPoint's EncryptedSummary stream. Only what its directory and the first
 * sector of its main stream say.
 */
function oleEncrypted(data: Buffer, entries: OleEntry[]): boolean {
  const streams = entries.filter((e) => e.type === OLE_STREAM);
  const names = new Set(streams.map((e) => e.name.toLowerCase()));
  if ([...OFFCRYPTO_STREAMS].every((n) => names.has(n)) || names.has(PPT_ENCRYPTED_STREAM)) return true;
  const word = streams.find((e) => e.name === 'WordDocument');
  const fib = word && oleStreamHead(data, word);
  if (fib && fib.length >= 0x0c && fib.readUInt16LE(0) === 0xa5ec)
    return (fib.readUInt16LE(0x0a) & FIB_ENCRYPTED) !== 0;
  const book = streams.find((e) => e.name === 'Workbook' || e.name === 'Book');
  const globals = book && oleStreamHead(data, book);
  if (globals && globals.length >= 4 && globals.readUInt16LE(0) === BIFF_BOF) {
    let at = 4 + globals.readUInt16LE(2);
    for (let k = 0; k < 2 && at + 4 <= globals.length; k++) {
      const type = globals.readUInt16LE(at);
      if (type === BIFF_FILEPASS) return true;
      if (type !== BIFF_WRITE_PROTECT) break;
      at += 4 + globals.readUInt16LE(at + 2);
    }
  }
  return false;
}

/** An OLE compound file: legacy Office (or encrypted OOXML), with macros, password-protected. */
function sniffOle(data: Buffer): Sniffed {
  const entries = oleDirectory(data);
  if (oleHasMacros(data, entries)) return { kind: 'office-macro' };
  return entries && oleEncrypted(data, entries) ? { kind: 'office', encrypted: true } : { kind: 'office' };
}

/**
 * The name a file is saved and run under on Windows, which drops trailing dots and spaces
 * ("run.js. ." runs as run.js).
 */
const savedName = (name: string) => name.replace(/[\s.]+$/, '');

export function extensionOf(name: string): string {
  const saved = savedName(name);
  const dot = saved.lastIndexOf('.');
  return dot < 0
    ? ''
    : saved
        .slice(dot + 1)
        .trim()
        .toLowerCase();
}

/**
 * invoice.pdf.exe, report.doc   .js: an executable or script extension after another short
 * extension, the usual disguise.
 */
export function hasDoubleExtension(name: string): boolean {
  const parts = savedName(name.trim()).toLowerCase().split('.');
  if (parts.length < 3) return false;
  const last = parts[parts.length - 1]!.trim();
  const before = parts[parts.length - 2]!.trim();
  return (
    (EXECUTABLE_EXTENSIONS.has(last) || SCRIPT_EXTENSIONS.has(last)) &&
    /^[a-z0-9]{1,5}$/.test(before) &&
    parts[0] !== ''
  );
}

function looksLikeText(data: Buffer): boolean {
  const n = Math.min(data.length, 1024);
  for (let i = 0; i < n; i++) {
    const b = data[i]!;
    if (b === 0 || (b < 0x20 && b !== 9 && b !== 10 && b !== 13 && b !== 12 && b !== 27)) return false;
  }
  return true;
}

/** Where a zip's central directory starts and how many entries it has (zip64 records followed). */
function zipDirectory(data: Buffer): { count: number; at: number } | undefined {
  const min = Math.max(0, data.length - 65_557);
  let eocd = -1;
  for (let i = data.length - 22; i >= min; i--) {
    if (data.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  let count = data.readUInt16LE(eocd + 10);
  let at = data.readUInt32LE(eocd + 16);
  // Zip64: the end record says 0xFFFF / 0xFFFFFFFF, the locator before it points to the zip64 end record.
  const locator = eocd - 20;
  if ((count === 0xffff || at === 0xffffffff) && locator >= 0 && data.readUInt32LE(locator) === 0x07064b50) {
    const record = Number(data.readBigUInt64LE(locator + 8));
    if (record + 56 <= data.length && data.readUInt32LE(record) === 0x06064b50) {
      count = Number(data.readBigUInt64LE(record + 32));
      at = Number(data.readBigUInt64LE(record + 48));
    }
  }
  return { count, at };
}

/** Sizes and the local header's offset from a zip64 extra field, where the directory entry says 0xFFFFFFFF. */
function zip64Values(extra: Buffer, values: { size: number; compressed: number; local: number }) {
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(at);
    const length = extra.readUInt16LE(at + 2);
    if (id === 0x0001) {
      let field = at + 4;
      const next = () => {
        if (field + 8 > at + 4 + length || field + 8 > extra.length) return undefined;
        const value = Number(extra.readBigUInt64LE(field));
        field += 8;
        return value;
      };
      if (values.size === 0xffffffff) values.size = next() ?? values.size;
      if (values.compressed === 0xffffffff) values.compressed = next() ?? values.compressed;
      if (values.local === 0xffffffff) values.local = next() ?? values.local;
      return;
    }
    at += 4 + length;
  }
}

/**
 * Reads the central directory of a zip (zip64 too); undefined when it is not a readable zip.
 * `unlisted` when fewer entries could be read than it says it has (cut short, damaged, or past
 * the member limit).
 */
export function listZip(
  data: Buffer,
  budget = newInflateBudget(),
): { members: ArchiveMember[]; unlisted: boolean } | undefined {
  const directory = zipDirectory(data);
  if (!directory) return undefined;
  const { count } = directory;
  let { at } = directory;
  const members: ArchiveMember[] = [];
  for (let k = 0; k < count && k < SNIFF_LIMITS.archiveMembers; k++) {
    if (at + 46 > data.length || data.readUInt32LE(at) !== 0x02014b50) break;
    const flags = data.readUInt16LE(at + 8);
    const method = data.readUInt16LE(at + 10);
    const nameLength = data.readUInt16LE(at + 28);
    const extraLength = data.readUInt16LE(at + 30);
    const commentLength = data.readUInt16LE(at + 32);
    const values = {
      compressed: data.readUInt32LE(at + 20),
      size: data.readUInt32LE(at + 24),
      local: data.readUInt32LE(at + 42),
    };
    zip64Values(data.subarray(at + 46 + nameLength, at + 46 + nameLength + extraLength), values);
    const { compressed, size, local } = values;
    const name = data.subarray(at + 46, at + 46 + nameLength).toString(flags & 0x800 ? 'utf8' : 'latin1');
    // Encrypted by either header: an archive whose central directory denies what its local
    // header says still asks an extractor for the password.
    const localFlags =
      local + 30 <= data.length && data.readUInt32LE(local) === 0x04034b50 ? data.readUInt16LE(local + 6) : 0;
    const encrypted = ((flags | localFlags) & 1) === 1;
    const member: ArchiveMember = { name, encrypted, size };
    if (!encrypted && !name.endsWith('/')) {
      const content = memberContent(data, local, method, compressed, size, budget);
      if (content) member.content = content;
    }
    members.push(member);
    at += 46 + nameLength + extraLength + commentLength;
  }
  return { members, unlisted: members.length < count };
}

function memberContent(
  data: Buffer,
  local: number,
  method: number,
  compressed: number,
  size: number,
  budget: InflateBudget,
): Buffer | undefined {
  if (local + 30 > data.length || data.readUInt32LE(local) !== 0x04034b50) return undefined;
  if (size > SNIFF_LIMITS.memberBytes) return undefined;
  const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
  const raw = data.subarray(start, Math.min(data.length, start + compressed));
  try {
    if (method === 0) return raw;
    // Inflated only within what is left of the message's budget.
    if (method === 8 && size <= budget.bytes) {
      const content = inflateRawSync(raw, {
        maxOutputLength: Math.max(1, Math.min(SNIFF_LIMITS.memberBytes, budget.bytes)),
      });
      budget.bytes -= content.length;
      return content;
    }
  } catch {
    // Damaged or larger than it claims: judged by its name only.
  }
  return undefined;
}

/** The content type OOXML declares for a VBA project part, whatever the part is named. */
const VBA_PROJECT_TYPE = 'application/vnd.ms-office.vbaproject';

function zipKind(members: ArchiveMember[]): AttachmentKind {
  const names = members.map((m) => m.name.toLowerCase());
  if (names.some((n) => n.endsWith('vbaproject.bin'))) return 'office-macro';
  // An OOXML document with its VBA project renamed: Office finds the project by its content type
  // (declared in [Content_Types].xml) or a relationship, so look at the declared types and at
  // parts that are VBA projects themselves.
  if (names.includes('[content_types].xml')) {
    for (const [i, member] of members.entries()) {
      const content = member.content;
      if (!content) continue;
      if (
        names[i] === '[content_types].xml' &&
        content.toString('latin1').toLowerCase().includes(VBA_PROJECT_TYPE)
      )
        return 'office-macro';
      if (startsWith(content, OLE) && oleHasMacros(content, oleDirectory(content))) return 'office-macro';
    }
  }
  if (names.includes('[content_types].xml')) return 'office';
  if (names.includes('meta-inf/manifest.mf') && names.some((n) => n.endsWith('.class'))) return 'executable';
  return 'zip';
}

/** The kind of content, and the members of an archive (zip, rar, 7z; without sniffing them). */
export function sniffKind(data: Buffer, name: string, budget = newInflateBudget()): Sniffed {
  if (startsWith(data, [0x4d, 0x5a])) return { kind: 'executable' }; // MZ: DOS/PE
  if (startsWith(data, [0x7f, 0x45, 0x4c, 0x46])) return { kind: 'executable' }; // ELF
  if (
    startsWith(data, [0xcf, 0xfa, 0xed, 0xfe]) ||
    startsWith(data, [0xce, 0xfa, 0xed, 0xfe]) ||
    startsWith(data, [0xfe, 0xed, 0xfa, 0xcf])
  )
    return { kind: 'executable' }; // Mach-O
  // TNEF (winmail.dat): Outlook shows the files in it as attachments; listed like an archive's.
  if (isTnef(data)) {
    const limits = { maxMembers: SNIFF_LIMITS.archiveMembers, memberBytes: SNIFF_LIMITS.memberBytes };
    return { kind: 'other', ...listTnef(data, budget, limits) };
  }
  if (startsWith(data, OLE)) return sniffOle(data);
  if (startsWith(data, [0x50, 0x4b, 0x03, 0x04]) || startsWith(data, [0x50, 0x4b, 0x05, 0x06])) {
    const listing = listZip(data, budget);
    if (!listing) return { kind: 'zip', unlisted: true };
    return { kind: zipKind(listing.members), members: listing.members, unlisted: listing.unlisted };
  }
  if (startsWith(data, [0x1f, 0x8b, 0x08])) {
    return { kind: 'gzip', ...listGzip(data, name, budget, SNIFF_LIMITS.archiveMembers) };
  }
  if (isTar(data)) return { kind: 'tar', ...listTar(data, SNIFF_LIMITS.archiveMembers) };
  const listing = listRar(data) ?? list7z(data, budget);
  if (listing)
    return {
      kind: startsWith(data, [0x37, 0x7a]) ? '7z' : 'rar',
      members: listing.members,
      unlisted: listing.unlisted,
      encrypted: listing.encrypted,
    };
  if (startsWith(data, [0x25, 0x50, 0x44, 0x46, 0x2d])) return { kind: 'pdf' };
  if (
    startsWith(data, [0x89, 0x50, 0x4e, 0x47]) ||
    startsWith(data, [0xff, 0xd8, 0xff]) ||
    startsWith(data, [0x47, 0x49, 0x46, 0x38])
  )
    return { kind: 'image' };
  if (looksLikeText(data)) {
    if (startsWith(data, [0x23, 0x21]) || SCRIPT_EXTENSIONS.has(extensionOf(name))) return { kind: 'script' };
    return { kind: 'text' };
  }
  return { kind: 'other' };
}

/** Kinds that are archives, for `kind: [archive]`. */
export const ARCHIVE_KINDS: ReadonlySet<AttachmentKind> = new Set(['zip', 'rar', '7z', 'tar', 'gzip']);
