// Member listings of RAR 5.0, RAR 4 (built by hand after the format descriptions) and 7z archives
// (made by 7-Zip's 7zz: LZMA-coded headers, plain headers, encrypted members, encrypted headers),
// bounded parsing of damaged and oversized ones, and policy rules acting on the members.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ARCHIVE_LIMITS, list7z, listRar } from '../src/archives.js';
import { sniffKind } from '../src/index.js';
import { makeRar4, makeRar5 } from './archive-fixtures.js';
import { defaultRulesVerdict, PDF, PE } from './fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'hermod-archives-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A 7z archive made by 7-Zip (Debian's 7zip package: 7zz) from files, with extra switches. */
function make7z(files: Record<string, Buffer>, switches: string[] = []): Buffer {
  const dir = mkdtempSync(join(work, 'src-'));
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  const out = join(dir, 'out.7z');
  try {
    execFileSync('7zz', ['a', '-bd', '-y', ...switches, out, ...Object.keys(files)], {
      cwd: dir,
      stdio: 'pipe',
    });
  } catch (error) {
    throw new Error(`7zz (apt-get install 7zip) failed: ${String(error)}`);
  }
  return readFileSync(out);
}

const text = Buffer.from('hello, world\n'.repeat(20));
const names = (l: { members: Array<{ name: string }> } | undefined) => l?.members.map((m) => m.name);

describe('RAR 5.0', () => {
  it('lists names, sizes, directories and encrypted members', () => {
    const rar = makeRar5([
      { name: 'docs', directory: true },
      { name: 'docs/readme.txt', data: text },
      { name: 'setup.exe', data: PE, encrypted: true },
      { name: 'résumé.pdf', data: PDF },
    ]);
    assert.deepEqual(listRar(rar), {
      members: [
        { name: 'docs/', encrypted: false, size: 0 },
        { name: 'docs/readme.txt', encrypted: false, size: text.length },
        { name: 'setup.exe', encrypted: true, size: PE.length },
        { name: 'résumé.pdf', encrypted: false, size: PDF.length },
      ],
      unlisted: false,
      encrypted: false,
    });
    assert.equal(sniffKind(rar, 'files.rar').kind, 'rar');
  });

  it('encrypted headers: unlisted and encrypted', () => {
    const rar = makeRar5([{ name: 'setup.exe', data: PE }], { encryptedHeaders: true });
    assert.deepEqual(listRar(rar), { members: [], unlisted: true, encrypted: true });
  });

  it('cut short or without an end block: what was read, marked unlisted', () => {
    const rar = makeRar5([
      { name: 'a.txt', data: text },
      { name: 'b.txt', data: text },
    ]);
    // Into b.txt's data: both names were read, but not the whole archive.
    const cutData = listRar(rar.subarray(0, rar.length - 30));
    assert.deepEqual([names(cutData), cutData?.unlisted], [['a.txt', 'b.txt'], true]);
    // Into b.txt's header (its name): only a.txt.
    const cutHeader = listRar(rar.subarray(0, rar.length - 8 - text.length - 3));
    assert.deepEqual([names(cutHeader), cutHeader?.unlisted], [['a.txt'], true]);
    const open = listRar(makeRar5([{ name: 'a.txt', data: text }], { noEnd: true }));
    assert.deepEqual([names(open), open?.unlisted], [['a.txt'], true]);
  });

  it('at most ARCHIVE_LIMITS.members members', () => {
    const many = makeRar5(
      Array.from({ length: ARCHIVE_LIMITS.members + 5 }, (_, i) => ({ name: `f${i}.txt` })),
    );
    const l = listRar(many);
    assert.equal(l?.members.length, ARCHIVE_LIMITS.members);
    assert.equal(l?.unlisted, true);
  });
});

describe('RAR 4', () => {
  it('lists names (plain and Unicode), directories and the password flag', () => {
    const rar = makeRar4([
      { name: 'docs', directory: true },
      { name: 'docs/readme.txt', data: text },
      { name: 'setup.exe', data: PE, encrypted: true },
      { name: 'naïve.txt', data: text },
    ]);
    const l = listRar(rar);
    assert.deepEqual(
      l?.members.map((m) => [m.name, m.encrypted, m.size]),
      [
        ['docs/', false, 0],
        ['docs/readme.txt', false, text.length],
        ['setup.exe', true, PE.length],
        ['na\u00efve.txt', false, text.length],
      ],
    );
    assert.equal(l?.unlisted, false);
  });

  it('cut inside a file header (its claimed size past the end): what was read, marked unlisted', () => {
    const rar = makeRar4([
      { name: 'a.txt', data: text },
      { name: 'b.txt', data: text },
    ]);
    // The end block is 7 bytes, b.txt's data text.length, its header 7 + 25 + 5: cut in its name.
    const cut = listRar(rar.subarray(0, rar.length - 7 - text.length - 3));
    assert.deepEqual([names(cut), cut?.unlisted], [['a.txt'], true]);
  });

  it('corrupted RAR 4 and RAR 5 archives never throw and stay within the limits', () => {
    for (const archive of [
      makeRar4([
        { name: 'a.txt', data: text },
        { name: 'dir', directory: true },
        { name: 'x.exe', data: PE },
      ]),
      makeRar5([
        { name: 'a.txt', data: text },
        { name: 'dir', directory: true },
        { name: 'x.exe', data: PE, encrypted: true },
      ]),
    ]) {
      for (let seed = 1; seed < 300; seed++) {
        const copy = Buffer.from(archive);
        for (let k = 0; k < 3; k++) {
          const at = 8 + ((seed * 7919 * (k + 1)) % (copy.length - 8));
          copy[at] = (copy[at] ?? 0) ^ ((seed * 31 + k) & 0xff || 1);
        }
        const l = listRar(copy);
        assert.ok(l && l.members.length <= ARCHIVE_LIMITS.members);
        for (const n of [9, 20, copy.length >> 1]) assert.ok(listRar(copy.subarray(0, n)));
      }
    }
  });

  it('encrypted block headers: unlisted and encrypted', () => {
    assert.deepEqual(listRar(makeRar4([{ name: 'x.exe', data: PE }], { encryptedHeaders: true })), {
      members: [],
      unlisted: true,
      encrypted: true,
    });
  });
});

describe('7z', () => {
  const files = { 'readme.txt': text, 'tool.exe': PE };

  it('a compressed (LZMA) header is decoded and listed', () => {
    const archive = make7z(files);
    assert.equal(archive[32 + Number(archive.readBigUInt64LE(12))], 0x17, 'the header is encoded');
    const l = list7z(archive);
    assert.deepEqual(l, {
      members: [
        { name: 'readme.txt', encrypted: false, size: text.length },
        { name: 'tool.exe', encrypted: false, size: PE.length },
      ],
      unlisted: false,
      encrypted: false,
    });
  });

  it("a decoded header counts against the message's inflate budget", () => {
    const archive = make7z(files);
    const budget = { bytes: 1_000_000 };
    assert.deepEqual(names(list7z(archive, budget)), ['readme.txt', 'tool.exe']);
    assert.ok(budget.bytes < 1_000_000, 'the decoded header was charged');
    assert.deepEqual(list7z(archive, { bytes: 10 }), { members: [], unlisted: true, encrypted: false });
  });

  it('a plain header, and members in a folder of their own', () => {
    const l = list7z(make7z(files, ['-mhc=off', '-ms=off']));
    assert.deepEqual(names(l), ['readme.txt', 'tool.exe']);
    assert.deepEqual(
      l?.members.map((m) => m.size),
      [text.length, PE.length],
    );
  });

  it('encrypted members (a password, names visible)', () => {
    const l = list7z(make7z(files, ['-psecret', '-mhe=off']));
    assert.deepEqual(
      l?.members.map((m) => [m.name, m.encrypted]),
      [
        ['readme.txt', true],
        ['tool.exe', true],
      ],
    );
  });

  it('encrypted headers: unlisted and encrypted', () => {
    assert.deepEqual(list7z(make7z(files, ['-psecret', '-mhe=on'])), {
      members: [],
      unlisted: true,
      encrypted: true,
    });
  });

  it('damaged or cut archives are unlisted, never an error', () => {
    const archive = make7z(files);
    for (const n of [6, 20, 32, archive.length - 10])
      assert.equal(list7z(archive.subarray(0, n))?.unlisted, true);
    for (let seed = 1; seed < 200; seed++) {
      const copy = Buffer.from(archive);
      for (let k = 0; k < 4; k++) {
        const at = 32 + ((seed * 7919 * (k + 1)) % (copy.length - 32));
        copy[at] = (copy[at] ?? 0) ^ ((seed + k) & 0xff || 1);
      }
      const l = list7z(copy);
      assert.ok(l && l.members.length <= ARCHIVE_LIMITS.members);
    }
  });
});

/** A tar archive made by GNU tar from files (names may have directories), gzipped with -z. */
function makeTar(files: Record<string, Buffer>, gzip: boolean): Buffer {
  const dir = mkdtempSync(join(work, 'tar-'));
  for (const [name, data] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), data);
  }
  const out = join(work, `${Math.random().toString(36).slice(2)}.tar${gzip ? '.gz' : ''}`);
  execFileSync('tar', [gzip ? '-czf' : '-cf', out, '-C', dir, ...Object.keys(files)], { stdio: 'pipe' });
  return readFileSync(out);
}

describe('tar and gzip', () => {
  const long = `${'deep/'.repeat(30)}setup.exe`;

  it('a tar and a tar.gz are listed (GNU long names too); a .gz of one file names it', () => {
    for (const gzip of [false, true]) {
      const sniffed = sniffKind(makeTar({ 'readme.txt': text, 'bin/run.js': text, [long]: PE }, gzip), 'x');
      assert.equal(sniffed.kind, gzip ? 'gzip' : 'tar');
      assert.deepEqual(
        sniffed.members?.filter((m) => !m.name.endsWith('/')).map((m) => [m.name, m.size]),
        [
          ['readme.txt', text.length],
          ['bin/run.js', text.length],
          [long, PE.length],
        ],
      );
    }
    const single = execFileSync('gzip', ['-c'], { input: PE });
    const named = Buffer.from(single);
    assert.deepEqual(
      sniffKind(named, 'invoice.pdf.exe.gz').members?.map((m) => [m.name, m.content?.length]),
      [['invoice.pdf.exe', PE.length]],
    );
  });
});

describe('policy rules on rar and 7z members', () => {
  const verdict = defaultRulesVerdict;

  it('an .exe inside a 7z or a rar is refused by the default rule; clean ones pass', () => {
    for (const [name, data] of [
      ['tools.7z', make7z({ 'readme.txt': text, 'setup.exe': PE })],
      ['tools.rar', makeRar5([{ name: 'bin/setup.exe', data: PE }])],
      ['tools-old.rar', makeRar4([{ name: 'bin/setup.exe', data: PE }])],
    ] as Array<[string, Buffer]>) {
      const t = verdict(name, data);
      assert.equal(t?.kind, 'reject', name);
      assert.equal(t?.rule, 'default-executables', name);
    }
    assert.equal(verdict('notes.7z', make7z({ 'readme.txt': text })), undefined);
    assert.equal(verdict('notes.rar', makeRar5([{ name: 'readme.txt', data: text }])), undefined);
  });

  it('an executable or script inside a tar, a tar.gz or a gzip is refused by the default rule', () => {
    for (const [name, data] of [
      ['tools.tar', makeTar({ 'readme.txt': text, 'bin/setup.txt': PE }, false)],
      ['tools.tar.gz', makeTar({ 'readme.txt': text, 'run.js': text }, true)],
      ['tools.tgz', makeTar({ 'docs/readme.txt': text, 'docs/setup.exe': text }, true)],
      ['invoice.pdf.exe.gz', execFileSync('gzip', ['-c'], { input: text })],
    ] as Array<[string, Buffer]>) {
      assert.equal(verdict(name, data)?.rule, 'default-executables', name);
    }
    assert.equal(verdict('notes.tar.gz', makeTar({ 'readme.txt': text }, true)), undefined);
    assert.equal(verdict('notes.txt.gz', execFileSync('gzip', ['-c'], { input: text })), undefined);
  });

  it('encrypted headers are refused as password-protected; an unlisted archive is left to rules', () => {
    const t = verdict('secret.7z', make7z({ 'readme.txt': text }, ['-psecret', '-mhe=on']));
    assert.equal(t?.rule, 'default-encrypted-archives');
    const member = verdict('secret.rar', makeRar5([{ name: 'a.pdf', data: PDF, encrypted: true }]));
    assert.equal(member?.rule, 'default-encrypted-archives');
    const cut = makeRar5([{ name: 'a.txt', data: text }], { noEnd: true });
    assert.equal(verdict('cut.rar', cut)?.rule, 'no-unlisted-archives');
  });
});
