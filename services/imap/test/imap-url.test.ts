import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ImapUrlError, parseMessageUrl } from '../src/protocol/imap-url.js';
import { formatOrdered, parseReturnOptions } from '../src/search/esearch.js';

describe('IMAP message URLs (RFC 5092, as CATENATE uses them)', () => {
  it('reads absolute, server-relative and mailbox-relative URLs', () => {
    assert.deepEqual(
      parseMessageUrl(
        'imap://joe%40example.com;AUTH=*@mail.example.com:143/Drafts;UIDVALIDITY=385759045/;UID=20/;SECTION=1.MIME/;PARTIAL=0.1024',
      ),
      {
        user: 'joe@example.com',
        host: 'mail.example.com',
        port: 143,
        mailbox: 'Drafts',
        uidvalidity: 385759045,
        uid: 20,
        section: '1.MIME',
        partial: { start: 0, count: 1024 },
      },
    );
    assert.deepEqual(parseMessageUrl('/a%20b%2Fc/;uid=7'), { mailbox: 'a b/c', uid: 7 });
    assert.deepEqual(parseMessageUrl(';UID=3/;section=HEADER.FIELDS%20(FROM)'), {
      uid: 3,
      section: 'HEADER.FIELDS (FROM)',
    });
  });

  it('refuses what is not a message URL', () => {
    for (const bad of [
      'http://example.com/INBOX/;UID=1',
      'imap://host',
      'imap://host/;UID=1',
      '/INBOX',
      '/INBOX/;UID=0',
      '/INBOX/;UID=x',
      '/INBOX;UIDVALIDITY=0/;UID=1',
      '/INBOX/;UID=1/;URLAUTH=anonymous',
      '/IN BOX/;UID=1',
      '/%ZZ/;UID=1',
      '/INBOX/;UID=1/;PARTIAL=1.0',
    ])
      assert.throws(() => parseMessageUrl(bad), ImapUrlError, bad);
  });
});

describe('ESEARCH return options (RFC 4731, RFC 5267)', () => {
  it('orders sort results without descending ranges', () => {
    assert.equal(formatOrdered([5, 1, 6, 7, 8, 2]), '5,1,6:8,2');
    assert.equal(formatOrdered([3, 2, 1]), '3,2,1');
  });

  it('parses PARTIAL, refuses it with ALL, and reads () and (CONTEXT) as ALL', () => {
    const atoms = (...values: string[]) => values.map((value) => ({ type: 'atom' as const, value }));
    assert.deepEqual(parseReturnOptions(atoms('PARTIAL', '9:3', 'COUNT'), true), {
      names: new Set(['PARTIAL', 'COUNT']),
      partial: { from: 3, to: 9 },
    });
    assert.deepEqual([...parseReturnOptions([], true).names], ['ALL']);
    assert.deepEqual([...parseReturnOptions(atoms('CONTEXT'), true).names], ['CONTEXT', 'ALL']);
    assert.throws(() => parseReturnOptions(atoms('PARTIAL', '1:5', 'ALL'), true));
    assert.throws(() => parseReturnOptions(atoms('SAVE'), false));
  });
});
