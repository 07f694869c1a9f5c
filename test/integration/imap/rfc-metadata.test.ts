// Conformance tests of METADATA / METADATA-SERVER (RFC 5464, issue 15), written from the RFC's
// grammar and examples over the raw protocol; every response also goes through the response
// checker (METADATA response and response-code grammar).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawImapFile } from './imap-fixture.js';

const lit = (text: string) => `{${Buffer.byteLength(text)}+}\r\n${text}`;

describe('imap METADATA by RFC 5464', () => {
  const file = rawImapFile();
  const { account } = file;

  it('server and mailbox entries, private and shared: SETMETADATA, GETMETADATA, NIL removes', async () => {
    const { connect } = await account('meta@example.com');
    const other = await account('meta2@example.com');
    // The administrator's server entry (section 3.2.1.1 /shared/comment), seen by every user.
    await file.fx.db.pool.query(
      `INSERT INTO imap_metadata (mailbox_id, account_id, name, value) VALUES (NULL, NULL, '/shared/comment', 'Shared comment')`,
    );
    const raw = await connect();
    const caps = (await raw.command('CAPABILITY')).untagged[0]!;
    assert.match(caps, / METADATA( |$)/);
    assert.match(caps, / METADATA-SERVER( |$)/);
    // Section 4.2.1's first example.
    assert.deepEqual((await raw.command('GETMETADATA "" /shared/comment')).untagged, [
      '* METADATA "" (/shared/comment "Shared comment")',
    ]);
    // Section 4.3's example: a multi-line private comment on INBOX, sent as a literal.
    const comment = 'My new comment across\r\ntwo lines.';
    let r = await raw.command(`SETMETADATA INBOX (/private/comment ${lit(comment)})`);
    assert.equal(r.status, 'OK', r.tagged);
    r = await raw.command('GETMETADATA INBOX /private/comment');
    assert.deepEqual(r.untagged, [`* METADATA INBOX (/private/comment {${comment.length}}\r\n${comment})`]);
    // Names are case-insensitive; several entries at once; one without a value is NIL.
    assert.match((await raw.command('SETMETADATA INBOX (/Shared/Comment "Team inbox")')).tagged, /^t\d+ OK /);
    assert.match(
      (await raw.command('SETMETADATA "" (/private/vendor/hermod/theme "dark")')).tagged,
      /^t\d+ OK /,
    );
    // Entries come in the order asked for, as in section 4.2's examples (and Dovecot).
    r = await raw.command('GETMETADATA INBOX (/shared/comment /private/comment /shared/missing)');
    assert.deepEqual(r.untagged, [
      `* METADATA INBOX (/shared/comment "Team inbox" /private/comment {${comment.length}}\r\n${comment} /shared/missing NIL)`,
    ]);
    // Private server entries are each user's own; the shared server entry is everyone's.
    const second = await other.connect();
    assert.deepEqual(
      (await second.command('GETMETADATA "" (/private/vendor/hermod/theme /shared/comment)')).untagged,
      ['* METADATA "" (/private/vendor/hermod/theme NIL /shared/comment "Shared comment")'],
    );
    assert.match(
      (await second.command('SETMETADATA "" (/shared/comment "mine")')).tagged,
      /^t\d+ NO \[NOPERM\]/,
    );
    // NIL removes (section 4.3); a binary value with NUL comes back as literal8.
    assert.match((await raw.command('SETMETADATA INBOX (/private/comment NIL)')).tagged, /^t\d+ OK /);
    assert.deepEqual((await raw.command('GETMETADATA INBOX /private/comment')).untagged, [
      '* METADATA INBOX (/private/comment NIL)',
    ]);
    assert.match(
      (await raw.command('SETMETADATA INBOX (/private/blob ~{3+}\r\na\x00b)')).tagged,
      /^t\d+ OK /,
    );
    assert.deepEqual((await raw.command('GETMETADATA INBOX /private/blob')).untagged, [
      '* METADATA INBOX (/private/blob ~{3}\r\na\x00b)',
    ]);
    assert.match(
      (await raw.command('GETMETADATA Nowhere /private/comment')).tagged,
      /^t\d+ NO \[NONEXISTENT\]/,
    );
    for (const bad of [
      'GETMETADATA INBOX comment',
      'GETMETADATA INBOX /private/*',
      'GETMETADATA INBOX /private//x',
      'GETMETADATA INBOX /private/x/',
      'GETMETADATA (DEPTH 2) INBOX /private',
      'GETMETADATA (SIZE 2) INBOX /private',
      // MAXSIZE is a number (32-bit, RFC 5464 section 5); an entry is an astring, never a literal8.
      'GETMETADATA (MAXSIZE 4294967296) INBOX /private',
      'GETMETADATA INBOX ~{16+}\r\n/private/comment',
      'SETMETADATA INBOX (/private "x")',
      'SETMETADATA INBOX (/private/x)',
      'SETMETADATA INBOX ()',
      'SETMETADATA INBOX /private/x "y"',
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
  });

  it('DEPTH and MAXSIZE (section 4.2.2): descendants, and LONGENTRIES for what was left out', async () => {
    const { connect } = await account('depth@example.com');
    const raw = await connect();
    const set = await raw.command(
      'SETMETADATA INBOX (/private/filters/values/small "one" /private/filters/values/big "0123456789" /private/filters/values/deep/x "two" /private/filters "top")',
    );
    assert.equal(set.status, 'OK', set.tagged);
    assert.deepEqual((await raw.command('GETMETADATA (DEPTH 1) INBOX (/private/filters/values)')).untagged, [
      '* METADATA INBOX (/private/filters/values NIL /private/filters/values/big "0123456789" /private/filters/values/small "one")',
    ]);
    assert.deepEqual(
      (await raw.command('GETMETADATA (DEPTH infinity) INBOX /private/filters/values')).untagged,
      [
        '* METADATA INBOX (/private/filters/values NIL /private/filters/values/big "0123456789" /private/filters/values/deep/x "two" /private/filters/values/small "one")',
      ],
    );
    const sized = await raw.command('GETMETADATA (MAXSIZE 5 DEPTH infinity) INBOX /private');
    assert.deepEqual(sized.untagged, [
      '* METADATA INBOX (/private/filters "top" /private/filters/values/deep/x "two" /private/filters/values/small "one")',
    ]);
    assert.match(sized.tagged, /^t\d+ OK \[METADATA LONGENTRIES 10\] /);
  });

  it('/private/specialuse is the special use LIST shows (RFC 6154 section 4), not a stored value', async () => {
    const { connect } = await account('specialuse@example.com');
    const reader = await account('specialuse2@example.com');
    const raw = await connect();
    assert.deepEqual((await raw.command('LIST "" Sent RETURN (SPECIAL-USE)')).untagged, [
      '* LIST (\\HasNoChildren \\Sent) "/" Sent',
    ]);
    assert.deepEqual((await raw.command('GETMETADATA Sent /private/specialuse')).untagged, [
      '* METADATA Sent (/private/specialuse "\\\\Sent")',
    ]);
    assert.deepEqual((await raw.command('GETMETADATA INBOX (/private/specialuse)')).untagged, [
      '* METADATA INBOX (/private/specialuse NIL)',
    ]);
    // A DEPTH listing of /private shows it with the stored entries.
    assert.equal((await raw.command('SETMETADATA Sent (/private/comment "outgoing")')).status, 'OK');
    assert.deepEqual((await raw.command('GETMETADATA (DEPTH 1) Sent /private')).untagged, [
      '* METADATA Sent (/private/comment "outgoing" /private/specialuse "\\\\Sent")',
    ]);
    assert.deepEqual((await raw.command('GETMETADATA (DEPTH infinity) INBOX /private')).untagged, []);
    // It cannot be set to something LIST would contradict; nothing changes.
    assert.match(
      (await raw.command('SETMETADATA Sent (/private/specialuse "\\\\Junk")')).tagged,
      /^t\d+ NO \[CANNOT\] /,
    );
    assert.match(
      (await raw.command('SETMETADATA INBOX (/private/comment "x" /private/specialuse NIL)')).tagged,
      /^t\d+ NO \[CANNOT\] /,
    );
    assert.deepEqual((await raw.command('GETMETADATA INBOX /private/comment')).untagged, [
      '* METADATA INBOX (/private/comment NIL)',
    ]);
    assert.deepEqual((await raw.command('GETMETADATA Sent /private/specialuse')).untagged, [
      '* METADATA Sent (/private/specialuse "\\\\Sent")',
    ]);
    // Another account's Sent is not the reader's: NIL, as LIST shows no \Sent for it.
    assert.match((await raw.command('SETACL Sent specialuse2@example.com lr')).tagged, /^t\d+ OK /);
    const other = await reader.connect();
    assert.deepEqual(
      (await other.command('GETMETADATA Shared/specialuse@example.com/Sent /private/specialuse')).untagged,
      ['* METADATA Shared/specialuse@example.com/Sent (/private/specialuse NIL)'],
    );
  });

  it('limits: MAXSIZE and TOOMANY refuse the whole command; RENAME keeps entries, DELETE drops them', async () => {
    const replica = await file.fx.startReplica({
      IMAP_METADATA_MAX_SIZE: '16',
      IMAP_METADATA_MAX_ENTRIES: '3',
    });
    const { id, connect } = await account('limits@example.com', () => replica.imapsPort);
    const raw = await connect();
    assert.match(
      (await raw.command(`SETMETADATA INBOX (/private/a "1" /private/b ${lit('x'.repeat(17))})`)).tagged,
      /^t\d+ NO \[METADATA MAXSIZE 16\] /,
    );
    assert.match((await raw.command('CREATE Projects')).tagged, /^t\d+ OK /);
    assert.match(
      (await raw.command('SETMETADATA Projects (/shared/a "1" /private/b "2")')).tagged,
      /^t\d+ OK /,
    );
    assert.match(
      (await raw.command('SETMETADATA "" (/private/c "3" /private/d "4")')).tagged,
      /^t\d+ NO \[METADATA TOOMANY\] /,
    );
    // Nothing of the refused command was kept; replacing and removing do not count as more.
    assert.deepEqual((await raw.command('GETMETADATA "" (/private/c)')).untagged, [
      '* METADATA "" (/private/c NIL)',
    ]);
    assert.equal(
      (await raw.command('SETMETADATA Projects (/shared/a "9" /private/b NIL /private/e "5")')).status,
      'OK',
    );
    assert.match((await raw.command('RENAME Projects Attic')).tagged, /^t\d+ OK /);
    assert.deepEqual((await raw.command('GETMETADATA Attic (/shared/a /private/e)')).untagged, [
      '* METADATA Attic (/shared/a "9" /private/e "5")',
    ]);
    assert.match((await raw.command('DELETE Attic')).tagged, /^t\d+ OK /);
    const { rows } = await file.fx.db.pool.query(
      'SELECT count(*)::int AS n FROM imap_metadata WHERE account_id = $1',
      [id],
    );
    assert.equal(rows[0].n, 0);
    assert.match((await raw.command('CREATE Attic')).tagged, /^t\d+ OK /);
    assert.deepEqual((await raw.command('GETMETADATA Attic /shared/a')).untagged, [
      '* METADATA Attic (/shared/a NIL)',
    ]);
  });
});
