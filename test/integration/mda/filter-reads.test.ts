// What mda's Sieve filters read of the store (@hermod/mail-store): a message's header section alone
// (bodyHeaderChunksSql: CRLF or LF, the whole message when its first chunk holds no empty line, also
// across chunks) and the mailboxes fileinto names, for a whole batch at once (findMailboxesFor: by
// id, else special use, else name).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AccountStore } from '@hermod/accounts';
import {
  BODY_CHUNK_SIZE,
  bodyHeaderChunksSql,
  createMailbox,
  findMailboxesFor,
  joinBodyChunks,
  writeBody,
} from '@hermod/mail-store';
import { type TestDatabase, testDatabase } from '@hermod/test/harness';

let db: TestDatabase;
before(async () => {
  db = await testDatabase();
});
after(() => db.close());

test('the header section of each message, or the whole message when its first chunk has no empty line', async () => {
  const messages = {
    crlf: 'Subject: a\r\nX-Spam-Status: No\r\n\r\nbody\r\n\r\nmore\r\n',
    lf: 'Subject: b\nFrom: x@y\n\nbody\n',
    // The earliest empty line ends the header, whichever line end it has.
    mixed: 'Subject: c\n\nbody\r\n\r\nmore',
    blankFirst: '\r\nbody only\r\n\r\nmore',
    noBlank: 'Subject: d\r\nFrom: x@y\r\n',
    // A header section longer than a chunk: the whole message, every chunk.
    longHeader: `Subject: e\r\n${'X-Long: 0123456789abcdef\r\n'.repeat(Math.ceil((BODY_CHUNK_SIZE * 1.5) / 26))}\r\nbody`,
    // A large message whose header is in the first chunk: only the header.
    largeBody: `Subject: f\r\n\r\n${'z'.repeat(BODY_CHUNK_SIZE * 2)}`,
  };
  const client = await db.pool.connect();
  try {
    const ids: Record<string, number> = {};
    for (const [name, text] of Object.entries(messages))
      ids[name] = (
        await writeBody(
          client,
          (async function* () {
            yield Buffer.from(text);
          })(),
        )
      ).bodyId;
    const { rows } = await client.query<{ body_id: string; data: Buffer }>(bodyHeaderChunksSql('$1'), [
      Object.values(ids),
    ]);
    const read = joinBodyChunks(rows.map((r) => ({ bodyId: Number(r.body_id), data: r.data })));
    const text = (name: string) => read.get(ids[name]!)?.toString('latin1');
    assert.equal(text('crlf'), 'Subject: a\r\nX-Spam-Status: No\r\n\r\n');
    assert.equal(text('lf'), 'Subject: b\nFrom: x@y\n\n');
    assert.equal(text('mixed'), 'Subject: c\n\n');
    assert.equal(text('blankFirst'), '\r\nbody only\r\n\r\n');
    assert.equal(text('noBlank'), messages.noBlank);
    assert.equal(text('longHeader'), messages.longHeader);
    assert.equal(text('largeBody'), 'Subject: f\r\n\r\n');
  } finally {
    client.release();
  }
});

test('the mailboxes fileinto names, for several accounts in one statement', async () => {
  const accounts = new AccountStore(db.pool);
  const a = (await accounts.create({ address: 'a@reads.example', password: 'correct horse battery' })).id;
  const b = (await accounts.create({ address: 'b@reads.example', password: 'correct horse battery' })).id;
  const lists = await createMailbox(db.pool, a, 'Lists');
  const other = await createMailbox(db.pool, b, 'Lists');
  const found = await findMailboxesFor(db.pool, [
    { accountId: a, name: 'Lists' },
    { accountId: b, name: 'Lists' },
    // By special use before name: the default mailboxes have a \Junk one.
    { accountId: a, specialUse: '\\Junk', name: 'Lists' },
    // By id before special use and name, but only the account's own.
    { accountId: a, id: lists.id, specialUse: '\\Junk', name: 'Junk' },
    { accountId: a, id: other.id, name: 'Nowhere' },
    { accountId: b, name: 'Nowhere' },
    // Another account's id does not stop the special use; a special use nobody has, the name.
    { accountId: a, id: other.id, specialUse: '\\Junk', name: 'Lists' },
    { accountId: a, specialUse: '\\Nothing', name: 'Lists' },
    { accountId: b, id: lists.id, name: 'Lists' },
  ]);
  assert.deepEqual(found[0], { id: lists.id, name: 'Lists' });
  assert.deepEqual(found[1], { id: other.id, name: 'Lists' });
  assert.equal(found[2]?.name, 'Junk');
  assert.deepEqual(found[3], { id: lists.id, name: 'Lists' });
  assert.equal(found[4], undefined);
  assert.equal(found[5], undefined);
  assert.equal(found[6]?.name, 'Junk');
  assert.deepEqual(found[7], { id: lists.id, name: 'Lists' });
  assert.deepEqual(found[8], { id: other.id, name: 'Lists' });
});
