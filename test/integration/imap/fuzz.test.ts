import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect } from 'node:tls';
import fc from 'fast-check';
import { type ImapFixture, PASSWORD, RawImapClient, startImapFixture } from './imap-fixture.js';

const seeds = [
  'FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.20> BODYSTRUCTURE ENVELOPE)',
  'UID FETCH 1:* (UID BINARY.PEEK[1] MODSEQ) (CHANGEDSINCE 1)',
  'SEARCH OR (FROM "a" SINCE 1-Jan-2026) NOT (SUBJECT {3}\r\nabc LARGER 10) UID 1:*',
  'STORE 1 +FLAGS.SILENT (\\Seen $Label)',
  'UID STORE 1:* (UNCHANGEDSINCE 5) -FLAGS (\\Flagged)',
  'APPEND INBOX (\\Seen) "01-Jan-2026 10:00:00 +0000" {12+}\r\nSubject: x\r\n',
  'LIST (SUBSCRIBED RECURSIVEMATCH) "" ("*" "%") RETURN (STATUS (MESSAGES SIZE) SPECIAL-USE)',
  'SORT (REVERSE SUBJECT DATE) UTF-8 ALL',
  'THREAD REFERENCES UTF-8 (OR SEEN UNSEEN)',
  'COPY 1:2 Archive',
  'STATUS INBOX (MESSAGES UIDNEXT HIGHESTMODSEQ DELETED-STORAGE)',
  'ID ("name" "fuzz" "version" NIL)',
  'SELECT INBOX (QRESYNC (1 1 1:5))',
];

/** Random edits of a valid command: deletions, insertions, duplications, huge literal markers, deep parens. */
const mutated = fc
  .tuple(
    fc.constantFrom(...seeds),
    fc.array(
      fc.tuple(
        fc.constantFrom('delete', 'insert', 'duplicate', 'literal', 'parens'),
        fc.nat(),
        fc.string({ maxLength: 4 }),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([seed, edits]) => {
    let s = seed;
    for (const [kind, at, text] of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      if (kind === 'delete') s = s.slice(0, i) + s.slice(i + 1);
      else if (kind === 'insert') s = s.slice(0, i) + text + s.slice(i);
      else if (kind === 'duplicate') s = s.slice(0, i) + s.slice(i, i + 20) + s.slice(i);
      else if (kind === 'literal')
        s = `${s.slice(0, i)} {${[0, 4294967295, 99999999999, 10][at % 4]}${at % 2 ? '+' : ''}}\r\n${s.slice(i)}`;
      else s = s.slice(0, i) + '('.repeat(at % 3000) + s.slice(i);
    }
    return s.replace(/\r?\n?$/, '');
  });

const internalErrors: string[] = [];

/** How long the tagged NOOP after a fuzz line may take: far above any answer, so only a hang reaches it. */
const ANSWER_BOUND_MS = 15_000;

/**
 * Bytes sent after the fuzz line so that any literal it announced ({0}, {10}, at most four of them)
 * is complete and its command line ends: whatever the line was, the server is then reading a new
 * command, and the tagged NOOP must be answered.
 */
const LITERAL_FILL = `${'x'.repeat(64)}\r\n`;

/**
 * Sends one line on its own authenticated connection, then a tagged NOOP: resolves when the NOOP
 * is answered or the server ends the session (BYE or close); rejects when neither happens within
 * ANSWER_BOUND_MS, which is a hang.
 */
function probe(port: number, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    let stage = 0;
    let buffer = '';
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (buffer.includes('Internal server error')) internalErrors.push(line);
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `no answer within ${ANSWER_BOUND_MS} ms (stage ${stage}) after ${JSON.stringify(line.slice(0, 200))}; have ${JSON.stringify(buffer.slice(-300))}`,
          ),
        ),
      ANSWER_BOUND_MS,
    );
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('latin1');
      if (stage === 0 && buffer.includes('\r\n')) {
        stage = 1;
        socket.write(`a LOGIN fuzz@example.com "${PASSWORD}"\r\nb SELECT INBOX\r\n`);
      } else if (stage === 1 && /\r\nb (OK|NO|BAD)/.test(buffer)) {
        stage = 2;
        socket.write(`f ${line}\r\n${LITERAL_FILL}z NOOP\r\n`);
      } else if (stage === 2 && /(^|\r\n)(z (OK|NO|BAD)|\* BYE)/.test(buffer)) finish();
    });
    // The server ending the session is an answer; before the fuzz line was sent it is not.
    socket.on('error', () =>
      stage === 2 ? finish() : finish(new Error(`connection failed at stage ${stage}`)),
    );
    socket.on('close', () => (stage === 2 ? finish() : finish(new Error(`closed at stage ${stage}`))));
  });
}

describe('imap server under random and mutated commands (property)', () => {
  let fx: ImapFixture;
  before(async () => {
    fx = await startImapFixture({ AUTH_LOCKOUT_THRESHOLD: '10000', IMAP_MAX_CONNECTIONS_PER_USER: '1000' });
    const id = await fx.createUser('fuzz@example.com');
    for (let i = 0; i < 5; i++)
      await fx.deliver(id, `Subject: fuzz ${i}\r\nFrom: a@example.com\r\n\r\nbody ${i}\r\n`);
  });
  after(async () => {
    await fx?.close();
  });

  it('never crashes, hangs or stops answering', async () => {
    await fc.assert(
      fc.asyncProperty(mutated, async (line) => {
        await probe(fx.service.imapsPort, line);
      }),
      { numRuns: 150, seed: 20261123 },
    );
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 3000 }), async (bytes) => {
        await probe(fx.service.imapsPort, Buffer.from(bytes).toString('latin1'));
      }),
      { numRuns: 50, seed: 7 },
    );
    assert.ok(fx.service.process.running, fx.service.process.logs());
    assert.deepEqual(internalErrors, [], 'no command may end in an internal error');
    const raw = await RawImapClient.connect(fx.service.imapsPort, true);
    await raw.readLine();
    await raw.login('fuzz@example.com');
    const select = await raw.command('SELECT INBOX');
    assert.equal(select.status, 'OK');
    raw.close();
    const health = await fetch(`http://127.0.0.1:${fx.service.opsPort}/healthz`);
    assert.equal(health.status, 200);
  });
});
