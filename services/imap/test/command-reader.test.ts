import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CommandReader, type ReaderEvent } from '../src/protocol/command-reader.js';
import { ImapProtocolError } from '../src/protocol/errors.js';
import { parseCommand } from '../src/protocol/parser.js';

const limits = {
  maxLineLength: 8192,
  literalLimit: (line: Buffer) => (/^\S+ APPEND /i.test(line.toString('latin1')) ? 1_000_000 : 65_536),
  maxNonSyncLiteral: 4096,
  maxLiteralsPerCommand: 100,
};

const feed = (reader: CommandReader, text: string | Buffer): ReaderEvent[] =>
  reader.push(Buffer.isBuffer(text) ? text : Buffer.from(text));

describe('CommandReader', () => {
  it('splits commands and collects literals across chunks', () => {
    const reader = new CommandReader(limits);
    const events = [
      ...feed(reader, 'a LOGIN {3}\r\n'),
      ...feed(reader, 'b'),
      ...feed(reader, 'ob "pw"\r\nb NOOP\r\n'),
    ];
    assert.equal(events[0]?.type, 'continue');
    const commands = events.filter((e) => e.type === 'command');
    assert.equal(commands.length, 2);
    const parsed = parseCommand((commands[0] as Extract<ReaderEvent, { type: 'command' }>).command, 4);
    assert.equal(parsed.name, 'LOGIN');
    assert.equal(parsed.args[0]?.type, 'string');
  });

  it('holds what follows a holdAfter command until released, across chunks and twice over', () => {
    const holding = {
      ...limits,
      holdAfter: (command: { texts: Buffer[] }) => /STARTTLS$/i.test(command.texts[0]!.toString('latin1')),
    };
    const reader = new CommandReader(holding);
    const first = feed(reader, 'a STARTTLS\r\nb APPEND INBOX {5}\r\n');
    // No continuation request for b while STARTTLS is unanswered.
    assert.deepEqual(
      first.map((e) => e.type),
      ['command'],
    );
    assert.deepEqual(feed(reader, 'hel'), []);
    assert.equal(reader.bufferedBytes, 'b APPEND INBOX {5}\r\nhel'.length);
    const released = reader.release();
    assert.deepEqual(
      released.map((e) => e.type),
      ['continue'],
    );
    const rest = feed(reader, 'lo\r\nc STARTTLS\r\nd NOOP\r\n');
    assert.deepEqual(
      rest.map((e) => e.type),
      ['command', 'command'],
    );
    assert.deepEqual(
      reader.release().map((e) => e.type),
      ['command'],
    );
    assert.deepEqual(reader.release(), []);
  });

  it('closes when more than a line arrives behind a held command', () => {
    const reader = new CommandReader({ ...limits, holdAfter: () => true });
    feed(reader, 'a STARTTLS\r\n');
    const [event] = feed(reader, Buffer.alloc(limits.maxLineLength + 1, 0x41));
    assert.equal(event?.type, 'error');
    assert.equal((event as Extract<ReaderEvent, { type: 'error' }>).error.fatal, true);
  });

  it('refuses huge literals from their digits alone, before allocating', () => {
    for (const size of ['4294967295', '99999999999999999999', '10000000']) {
      const reader = new CommandReader(limits);
      const [event] = feed(reader, `a1 LOGIN {${size}}\r\n`);
      assert.equal(event?.type, 'error');
      const error = (event as Extract<ReaderEvent, { type: 'error' }>).error;
      assert.equal(error.code, 'LITERAL_TOO_LARGE');
      assert.equal(error.fatal, false);
      assert.equal(error.tag, 'a1');
      assert.equal(reader.bufferedBytes, 0);
    }
  });

  it('closes on a non-synchronising literal over the LITERAL- limit', () => {
    const reader = new CommandReader(limits);
    const [event] = feed(reader, 'a APPEND INBOX {10000+}\r\n');
    assert.equal(event?.type, 'error');
    assert.equal((event as Extract<ReaderEvent, { type: 'error' }>).error.fatal, true);
  });

  it('gives APPEND its larger limit', () => {
    const reader = new CommandReader(limits);
    const [event] = feed(reader, 'a APPEND INBOX {500000}\r\n');
    assert.deepEqual(event, { type: 'continue', size: 500000 });
  });

  it('caps the line length without buffering the excess', () => {
    const reader = new CommandReader(limits);
    const events = feed(reader, Buffer.alloc(10 * 1024 * 1024, 0x61));
    assert.equal(events.length, 1);
    assert.equal((events[0] as Extract<ReaderEvent, { type: 'error' }>).error.code, 'LINE_TOO_LONG');
    assert.ok(reader.bufferedBytes <= limits.maxLineLength + 65536);
  });

  it('never throws and stays bounded on random input (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 20 }), (chunks) => {
        const reader = new CommandReader(limits);
        for (const chunk of chunks) {
          for (const event of reader.push(Buffer.from(chunk))) {
            if (event.type === 'command') {
              try {
                parseCommand(event.command, 8);
              } catch (error) {
                assert.ok(error instanceof ImapProtocolError);
              }
            }
          }
          assert.ok(reader.bufferedBytes <= limits.maxLineLength + 1_000_000 + 4096);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('parseCommand', () => {
  const parse = (line: string, nesting = 8) => {
    const reader = new CommandReader(limits);
    const events = feed(reader, `${line}\r\n`);
    const command = events.find((e) => e.type === 'command') as Extract<ReaderEvent, { type: 'command' }>;
    return parseCommand(command.command, nesting);
  };

  it('parses atoms, quoted strings, lists and BODY sections with spaces', () => {
    const p = parse('A1 uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)]<0.100>) "q\\"x"');
    assert.equal(p.tag, 'A1');
    assert.equal(p.name, 'UID');
    assert.deepEqual(p.args[0], { type: 'atom', value: 'fetch' });
    const list = p.args[2];
    assert.equal(list?.type, 'list');
    assert.deepEqual((list as { items: unknown[] }).items[1], {
      type: 'atom',
      value: 'BODY.PEEK[HEADER.FIELDS (From To)]<0.100>',
    });
    const quoted = p.args[3] as { type: 'string'; chunks: Buffer[] };
    assert.equal(Buffer.concat(quoted.chunks).toString(), 'q"x');
  });

  it('caps parenthesis nesting before login (CVE-2026-27857)', () => {
    assert.throws(
      () => parse(`a NOOP ${'('.repeat(4000)}${')'.repeat(4000)}`, 2),
      (e: unknown) => e instanceof ImapProtocolError && e.code === 'NESTING_TOO_DEEP',
    );
    assert.doesNotThrow(() => parse('a ID ("name" "x")', 2));
  });

  it('rejects malformed input with BAD-class errors, never anything else (property)', () => {
    const alphabet = fc.constantFrom(...'a1 ()[]{}"\\*%+-.<>:,$~\r'.split(''));
    fc.assert(
      fc.property(fc.array(alphabet, { maxLength: 200 }), (chars) => {
        const line = `t1 CMD ${chars.join('').replace(/\r/g, '')}`;
        try {
          // A line ending in {n} or {n+} announces a literal: the reader waits for it (asking with a
          // continuation only for the synchronising form), which is correct.
          const events = feed(new CommandReader(limits), `${line}\r\n`);
          const announced = /\{\d+(\+?)\}$/.exec(line);
          if (announced && !events.some((e) => e.type === 'command')) {
            assert.equal(
              events.some((e) => e.type === 'continue'),
              announced[1] === '',
            );
            return;
          }
          parse(line);
        } catch (error) {
          assert.ok(error instanceof ImapProtocolError);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips generated well-formed argument trees (property)', () => {
    const atom = fc.stringMatching(/^[A-Za-z0-9.\\]{1,10}$/);
    const quoted = fc
      .string({ maxLength: 20 })
      .filter((s) => !/[\r\n\0]/.test(s) && /^[\x20-\x7e]*$/.test(s));
    type Gen = { kind: 'atom'; v: string } | { kind: 'q'; v: string } | { kind: 'list'; v: Gen[] };
    const tree: fc.Arbitrary<Gen> = fc.letrec<{ node: Gen }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        atom.map((v) => ({ kind: 'atom' as const, v })),
        quoted.map((v) => ({ kind: 'q' as const, v })),
        fc.array(tie('node'), { maxLength: 4 }).map((v) => ({ kind: 'list' as const, v })),
      ),
    })).node;
    const render = (g: Gen): string =>
      g.kind === 'atom'
        ? g.v
        : g.kind === 'q'
          ? `"${g.v.replace(/[\\"]/g, (m) => `\\${m}`)}"`
          : `(${g.v.map(render).join(' ')})`;
    const shape = (g: Gen): unknown => (g.kind === 'list' ? g.v.map(shape) : g.v);
    const tokenShape = (t: import('../src/protocol/parser.js').Token): unknown =>
      t.type === 'list'
        ? t.items.map(tokenShape)
        : t.type === 'atom'
          ? t.value
          : Buffer.concat(t.chunks).toString();
    fc.assert(
      fc.property(fc.array(tree, { minLength: 1, maxLength: 5 }), (args) => {
        const p = parse(`x CMD ${args.map(render).join(' ')}`, 100);
        assert.deepEqual(p.args.map(tokenShape), args.map(shape));
      }),
      { numRuns: 300 },
    );
  });
});
