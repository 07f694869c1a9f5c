// Conformance tests of ESORT and CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267, issue 15), written from
// the RFC's grammar and examples over the raw protocol; every response also goes through the
// response checker (ADDTO, REMOVEFROM, PARTIAL, NOUPDATE grammar).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rawImapFile } from './imap-fixture.js';

const message = (subject: string, date: string) =>
  [`Date: ${date}`, 'From: a@example.com', 'To: b@example.com', `Subject: ${subject}`, '', 'hello', ''].join(
    '\r\n',
  );

const tagOf = (tagged: string) => tagged.split(' ')[0]!;

describe('imap ESORT and CONTEXT=SEARCH/SORT by RFC 5267', () => {
  const file = rawImapFile();
  const { account } = file;
  // Dates out of arrival order: sorted by DATE the UIDs are 4 2 6 1 5 3.
  const DATES = [
    ['delta', 'Thu, 4 Jun 2026 10:00:00 +0000'],
    ['bravo', 'Tue, 2 Jun 2026 10:00:00 +0000'],
    ['foxtrot', 'Sat, 6 Jun 2026 10:00:00 +0000'],
    ['alpha', 'Mon, 1 Jun 2026 10:00:00 +0000'],
    ['echo', 'Fri, 5 Jun 2026 10:00:00 +0000'],
    ['charlie', 'Wed, 3 Jun 2026 10:00:00 +0000'],
  ] as const;
  const fill = async (id: number) => {
    for (const [subject, date] of DATES) await file.fx.deliver(id, message(subject, date));
  };

  it('ESORT (section 3): RETURN options answered with ESEARCH in sort order', async () => {
    const { id, connect } = await account('esort@example.com');
    await fill(id);
    const raw = await connect();
    const caps = (await raw.command('CAPABILITY')).untagged[0]!;
    for (const cap of ['ESORT', 'CONTEXT=SEARCH', 'CONTEXT=SORT']) assert.ok(caps.includes(` ${cap}`), cap);
    await raw.command('SELECT INBOX');
    await raw.command('STORE 3 +FLAGS ($Junk)');
    // Section 3.3's example: RETURN () is ALL, in the requested order, with no descending ranges.
    let r = await raw.command('UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED UNKEYWORD $Junk');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") UID ALL 5,1,6,2,4`]);
    r = await raw.command('SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL');
    // MIN and MAX are the first and last in sort order, not the lowest and highest numbers.
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") MIN 4 MAX 3 COUNT 6`]);
    r = await raw.command('SORT RETURN (ALL) (SUBJECT) UTF-8 ALL');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") ALL 4,2,6,1,5,3`]);
    r = await raw.command('SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") ALL 1:6`]);
    // Nothing matches: only the correlator and COUNT 0.
    r = await raw.command('UID SORT RETURN (MIN COUNT) (DATE) UTF-8 KEYWORD $Nothing');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") UID COUNT 0`]);
    // Without RETURN, SORT is RFC 5256's.
    assert.deepEqual((await raw.command('SORT (DATE) UTF-8 ALL')).untagged, ['* SORT 4 2 6 1 5 3']);
    for (const bad of [
      'SORT RETURN (SAVE) (DATE) UTF-8 ALL',
      'SORT RETURN (FIRST) (DATE) UTF-8 ALL',
      'SORT RETURN (ALL PARTIAL 1:2) (DATE) UTF-8 ALL',
      'SORT RETURN (MIN MIN) (DATE) UTF-8 ALL',
      'SORT RETURN MIN (DATE) UTF-8 ALL',
      // partial-range = nz-number ":" nz-number, nz-number being 32-bit (RFC 9051 section 9)
      'SORT RETURN (PARTIAL 1:4294967296) (DATE) UTF-8 ALL',
      'SEARCH RETURN (PARTIAL 4294967296:1) ALL',
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
  });

  it('PARTIAL (section 4.4): a window of the result, in mailbox or sort order, NIL past the end', async () => {
    const { id, connect } = await account('partial@example.com');
    await fill(id);
    const raw = await connect();
    await raw.command('EXAMINE INBOX');
    let r = await raw.command('SEARCH RETURN (PARTIAL 2:4) ALL');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") PARTIAL (2:4 2:4)`]);
    r = await raw.command('UID SORT RETURN (PARTIAL 1:3 COUNT) (DATE) UTF-8 ALL');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") UID COUNT 6 PARTIAL (1:3 4,2,6)`]);
    r = await raw.command('SEARCH RETURN (PARTIAL 5:9) NOT SUBJECT alpha');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") PARTIAL (5:9 6)`]);
    // RFC 5267 places SORT's RETURN before the criteria; given after the charset (as the SEARCH
    // program it precedes), it is read the same way rather than refused.
    r = await raw.command('SORT (DATE) UTF-8 RETURN (PARTIAL 2:3) ALL');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") PARTIAL (2:3 2,6)`]);
    for (const bad of [
      'SORT RETURN (MIN) (DATE) UTF-8 RETURN (MAX) ALL',
      'SORT (DATE) UTF-8 RETURN (SAVE) ALL',
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
    r = await raw.command('SEARCH RETURN (PARTIAL 7:9) ALL');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") PARTIAL (7:9 NIL)`]);
    // The CONTEXT hint changes nothing; alone it means ALL.
    r = await raw.command('SEARCH RETURN (CONTEXT) SUBJECT echo');
    assert.deepEqual(r.untagged, [`* ESEARCH (TAG "${tagOf(r.tagged)}") ALL 5`]);
    for (const bad of [
      'SEARCH RETURN (PARTIAL) ALL',
      'SEARCH RETURN (PARTIAL 0:3) ALL',
      'SEARCH RETURN (PARTIAL 1:*) ALL',
      'SEARCH RETURN (PARTIAL 1:2 ALL) ALL',
    ])
      assert.equal((await raw.command(bad)).status, 'BAD', bad);
  });

  it('UPDATE on SEARCH (section 4.3): ADDTO after EXISTS, REMOVEFROM before EXPUNGE, CANCELUPDATE', async () => {
    const { id, connect } = await account('update@example.com');
    await fill(id);
    const raw = await connect();
    const other = await connect();
    await raw.command('SELECT INBOX');
    await other.command('SELECT INBOX');
    // Section 4.3's example: B01 UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk.
    const start = await raw.command('UID SEARCH RETURN (UPDATE COUNT) DELETED KEYWORD $Junk');
    const b01 = tagOf(start.tagged);
    assert.deepEqual(start.untagged, [`* ESEARCH (TAG "${b01}") UID COUNT 0`]);
    // Another session marks messages: they enter the result.
    await other.command('STORE 2,4 +FLAGS (\\Deleted $Junk)');
    const noop = await raw.command('NOOP');
    assert.deepEqual(
      noop.untagged.filter((l) => l.startsWith('* ESEARCH')),
      [`* ESEARCH (TAG "${b01}") UID ADDTO (0 2,4)`],
    );
    // This session's own change leaves the result at once.
    const own = await raw.command('UID STORE 2 -FLAGS ($Junk)');
    assert.equal(own.untagged.at(-1), `* ESEARCH (TAG "${b01}") UID REMOVEFROM (0 2)`);
    // A sequence-number context: REMOVEFROM comes before the EXPUNGE, with the old number.
    const seq = await raw.command('SEARCH RETURN (UPDATE) DELETED');
    const s01 = tagOf(seq.tagged);
    assert.deepEqual(seq.untagged, [`* ESEARCH (TAG "${s01}")`]);
    const expunge = await raw.command('EXPUNGE');
    assert.deepEqual(expunge.untagged, [
      `* ESEARCH (TAG "${b01}") UID REMOVEFROM (0 4)`,
      `* ESEARCH (TAG "${s01}") REMOVEFROM (0 2,4)`,
      '* 4 EXPUNGE',
      '* 2 EXPUNGE',
    ]);
    // A new message that matches: EXISTS first, then ADDTO with its number (section 4.3.3).
    await file.fx.deliver(id, message('golf', 'Sun, 7 Jun 2026 10:00:00 +0000'), { flags: ['\\Deleted'] });
    // NOOP reads the database, where the delivery is already committed.
    const lines = (await raw.command('NOOP')).untagged;
    const exists = lines.indexOf('* 5 EXISTS');
    assert.ok(exists >= 0, lines.join('\n'));
    assert.deepEqual(
      lines.filter((l) => l.startsWith('* ESEARCH')),
      [`* ESEARCH (TAG "${s01}") ADDTO (0 5)`],
    );
    assert.ok(lines.findIndex((l) => l.startsWith('* ESEARCH')) > exists);
    // Reusing a live context's tag is BAD; CANCELUPDATE ends the context.
    raw.checker.sent(b01, `UID SEARCH RETURN (UPDATE) ALL`);
    raw.send(`${b01} UID SEARCH RETURN (UPDATE) ALL\r\n`);
    assert.match((await raw.until(b01)).tagged, new RegExp(`^${b01} BAD `));
    assert.equal((await raw.command(`CANCELUPDATE "${s01}" "${b01}"`)).status, 'OK');
    assert.equal((await raw.command(`CANCELUPDATE "${s01}"`)).status, 'NO');
    assert.equal((await raw.command(`CANCELUPDATE ${s01}`)).status, 'BAD');
    await other.command('STORE 1 +FLAGS (\\Deleted)');
    const after = await raw.command('NOOP');
    assert.ok(
      after.untagged.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(.*\\Deleted/.test(l)),
      after.untagged.join('\n'),
    );
    assert.deepEqual(
      after.untagged.filter((l) => l.startsWith('* ESEARCH')),
      [],
    );
  });

  it('UPDATE during IDLE, on SORT with positions, and NOUPDATE beyond the context limit', async () => {
    const { id, connect } = await account('sortupdate@example.com');
    await fill(id);
    const raw = await connect();
    const other = await connect();
    await raw.command('SELECT INBOX');
    await other.command('SELECT INBOX');
    // Section 4.3.1's example form: UID SORT RETURN (UPDATE COUNT) ... KEYWORD $Todo.
    const start = await raw.command('UID SORT RETURN (UPDATE ALL) (DATE) UTF-8 KEYWORD $Todo');
    const c01 = tagOf(start.tagged);
    assert.deepEqual(start.untagged, [`* ESEARCH (TAG "${c01}") UID`]);
    await other.command('UID STORE 1,3,4 +FLAGS ($Todo)');
    let lines = (await raw.command('NOOP')).untagged.filter((l) => l.startsWith('* ESEARCH'));
    // Sorted by date: 4 (Jun 1), 1 (Jun 4), 3 (Jun 6) at positions 1, 2, 3.
    assert.deepEqual(lines, [`* ESEARCH (TAG "${c01}") UID ADDTO (1 4 2 1 3 3)`]);
    await other.command('UID STORE 1 -FLAGS ($Todo)');
    await other.command('UID STORE 2 +FLAGS ($Todo)');
    lines = (await raw.command('NOOP')).untagged.filter((l) => l.startsWith('* ESEARCH'));
    // 1 leaves from position 2; 2 (Jun 2) enters at position 2: 4 2 3.
    assert.deepEqual(lines, [`* ESEARCH (TAG "${c01}") UID REMOVEFROM (2 1) ADDTO (2 2)`]);
    // During IDLE the update comes as the change happens.
    raw.checker.sent('idle1', 'IDLE');
    raw.send('idle1 IDLE\r\n');
    assert.match(await raw.readLine(), /^\+ /);
    await other.command('UID STORE 6 +FLAGS ($Todo)');
    for (;;) {
      const line = await raw.readLine();
      if (line.startsWith('* ESEARCH')) {
        assert.equal(line, `* ESEARCH (TAG "${c01}") UID ADDTO (3 6)`);
        break;
      }
    }
    raw.send('DONE\r\n');
    assert.match((await raw.until('idle1')).tagged, /^idle1 OK/);
    // Eight live contexts per session: the ninth is refused but its other options are answered.
    for (let i = 1; i < 8; i++) await raw.command('SEARCH RETURN (UPDATE) ALL');
    const refused = await raw.command('SEARCH RETURN (UPDATE COUNT) ALL');
    const tag = tagOf(refused.tagged);
    assert.deepEqual(refused.untagged, [
      `* ESEARCH (TAG "${tag}") COUNT 6`,
      `* NO [NOUPDATE "${tag}"] Too many update contexts`,
    ]);
    assert.equal(refused.status, 'OK');
    // Contexts end with the selection.
    await raw.command('SELECT INBOX');
    assert.equal((await raw.command(`CANCELUPDATE "${c01}"`)).status, 'NO');
  });
});
