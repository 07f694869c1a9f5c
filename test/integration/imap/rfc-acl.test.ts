// IMAP ACL (RFC 4314) with shared mailboxes between accounts of one domain (issue 15): two accounts
// of one domain, the owner grants, the other sees the mailbox in the shared namespace (RFC 2342)
// and is held to the granted rights in every command; a third account of another domain is refused.
// Every response also goes through the response checker (ACL, LISTRIGHTS, MYRIGHTS grammar).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { eventually, requireTool, run } from '../../harness/index.js';
import { PASSWORD, rawImapFile } from './imap-fixture.js';

const lit = (text: string) => `{${Buffer.byteLength(text)}+}\r\n${text}`;
const message = (subject: string) =>
  `From: a@acl.example\r\nSubject: ${subject}\r\n\r\nbody of ${subject}\r\n`;

describe('imap ACL by RFC 4314 with a shared namespace', () => {
  const file = rawImapFile();
  const { account } = file;

  it('owner grants, the other account lists, reads and is held to its rights; other domains are refused', async () => {
    const alice = await account('alice@acl.example');
    const bob = await account('bob@acl.example');
    const carol = await account('carol@other.example');
    const owner = await alice.connect();
    const caps = (await owner.command('CAPABILITY')).untagged[0]!;
    assert.match(caps, / ACL( |$)/);
    assert.match(caps, / RIGHTS=texk( |$)/);
    // RFC 2342: personal namespace, the other users' namespace with its prefix, no public one.
    assert.deepEqual((await owner.command('NAMESPACE')).untagged, [
      '* NAMESPACE (("" "/")) (("Shared/" "/")) NIL',
    ]);
    assert.equal((await owner.command('CREATE Team')).status, 'OK');
    await file.fx.deliver(alice.id, message('first'), { mailbox: 'Team' });

    // SETACL by the owner (RFC 4314 3.1); an unknown right is BAD, negative rights are refused,
    // accounts of another domain and unknown addresses cannot be named.
    assert.match((await owner.command('SETACL Team bob@acl.example lrs')).tagged, /^t\d+ OK /);
    assert.match((await owner.command('SETACL Team bob@acl.example lrz')).tagged, /^t\d+ BAD /);
    assert.match(
      (await owner.command('SETACL Team -bob@acl.example r')).tagged,
      /^t\d+ NO \[CANNOT\] Negative/,
    );
    assert.match(
      (await owner.command('SETACL Team carol@other.example lr')).tagged,
      /^t\d+ NO \[CANNOT\] Only accounts of the same domain/,
    );
    assert.match((await owner.command('SETACL Team nobody@acl.example lr')).tagged, /^t\d+ NO \[CANNOT\] /);
    assert.match((await owner.command('SETACL Team alice@acl.example l')).tagged, /^t\d+ NO \[CANNOT\] /);
    // GETACL, LISTRIGHTS, MYRIGHTS (3.3-3.5): exact responses.
    assert.deepEqual((await owner.command('GETACL Team')).untagged, [
      '* ACL Team alice@acl.example lrswipkxteacd bob@acl.example lrs',
    ]);
    assert.deepEqual((await owner.command('LISTRIGHTS Team bob@acl.example')).untagged, [
      '* LISTRIGHTS Team bob@acl.example "" l r s w i p k x t e a c d',
    ]);
    assert.deepEqual((await owner.command('LISTRIGHTS Team alice@acl.example')).untagged, [
      '* LISTRIGHTS Team alice@acl.example lrswipkxteacd',
    ]);
    assert.deepEqual((await owner.command('MYRIGHTS Team')).untagged, ['* MYRIGHTS Team lrswipkxteacd']);
    assert.match((await owner.command('MYRIGHTS Nowhere')).tagged, /^t\d+ NO \[NONEXISTENT\]/);

    // The other account sees the mailbox in the shared namespace, and only it.
    const reader = await bob.connect();
    const shared = 'Shared/alice@acl.example/Team';
    assert.deepEqual((await reader.command('LIST "" "Shared*"')).untagged, [
      '* LIST (\\Noselect \\HasChildren) "/" Shared',
      '* LIST (\\Noselect \\HasChildren) "/" Shared/alice@acl.example',
      `* LIST (\\HasNoChildren) "/" ${shared}`,
    ]);
    assert.deepEqual((await reader.command('LIST "" "Shared/%"')).untagged, [
      '* LIST (\\Noselect \\HasChildren) "/" Shared/alice@acl.example',
    ]);
    assert.deepEqual((await reader.command(`MYRIGHTS ${shared}`)).untagged, [`* MYRIGHTS ${shared} lrs`]);
    // Without l (or any right) a mailbox is answered for as if it did not exist; with l, NOPERM.
    for (const command of [
      'MYRIGHTS Shared/alice@acl.example/INBOX',
      'SELECT Shared/alice@acl.example/INBOX',
      'STATUS Shared/alice@acl.example/INBOX (MESSAGES)',
      'GETACL Shared/alice@acl.example/INBOX',
    ])
      assert.match((await reader.command(command)).tagged, /^t\d+ NO \[NONEXISTENT\]/, command);
    assert.match(
      (await reader.command('APPEND Shared/alice@acl.example/INBOX {1+}\r\nx')).tagged,
      /^t\d+ NO \[TRYCREATE\]/,
    );
    assert.match((await reader.command(`GETACL ${shared}`)).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match((await reader.command(`SETACL ${shared} bob@acl.example +a`)).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match(
      (await reader.command(`LISTRIGHTS ${shared} bob@acl.example`)).tagged,
      /^t\d+ NO \[NOPERM\]/,
    );
    assert.match(
      (await reader.command(`APPEND ${shared} ${lit(message('from bob'))}`)).tagged,
      /^t\d+ NO \[NOPERM\]/,
    );
    assert.match((await reader.command(`CREATE ${shared}/Sub`)).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match((await reader.command(`DELETE ${shared}`)).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match((await reader.command(`RENAME ${shared} ${shared}2`)).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.deepEqual((await reader.command(`STATUS ${shared} (MESSAGES UNSEEN)`)).untagged, [
      `* STATUS ${shared} (MESSAGES 1 UNSEEN 1)`,
    ]);
    assert.equal((await reader.command(`SUBSCRIBE ${shared}`)).status, 'OK');
    assert.deepEqual((await reader.command('LSUB "" "Shared/*"')).untagged, [`* LSUB () "/" ${shared}`]);

    // SELECT (r); s but neither w nor t: \Seen is the one permanent flag.
    let r = await reader.command(`SELECT ${shared}`);
    assert.match(r.tagged, /^t\d+ OK \[READ-WRITE\]/);
    assert.ok(r.untagged.includes('* OK [PERMANENTFLAGS (\\Seen)] Flags permitted'), r.untagged.join('\n'));
    assert.ok(r.untagged.includes('* 1 EXISTS'));
    r = await reader.command('FETCH 1 (BODY[] FLAGS)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.match(r.untagged.join('\n'), /FLAGS \(\\Seen \\Recent\)/);
    assert.match(r.untagged.join('\n'), /body of first/);
    assert.match((await reader.command('SEARCH SUBJECT first')).untagged[0]!, /^\* SEARCH 1$/);
    // \Deleted needs t, other flags w, EXPUNGE e (RFC 4314 section 4).
    assert.match((await reader.command('STORE 1 +FLAGS (\\Deleted)')).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match((await reader.command('STORE 1 +FLAGS (\\Flagged)')).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match((await reader.command('EXPUNGE')).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match((await reader.command('MOVE 1 INBOX')).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.match(
      (await reader.command(`REPLACE 1 INBOX ${lit(message('replaced'))}`)).tagged,
      /^t\d+ NO \[NOPERM\]/,
    );
    r = await reader.command('STORE 1 -FLAGS (\\Seen)');
    assert.deepEqual(r.untagged, ['* 1 FETCH (FLAGS (\\Recent))']);
    // A STORE that may change some of its flags changes those and leaves the others (RFC 4314 4).
    r = await reader.command('STORE 1 +FLAGS (\\Seen \\Deleted)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(r.untagged, ['* 1 FETCH (FLAGS (\\Seen \\Recent))']);
    // COPY out of it needs only r there (and i on the target, the reader's own INBOX).
    assert.match((await reader.command('COPY 1 INBOX')).tagged, /^t\d+ OK \[COPYUID /);

    // A message the owner appends reaches the other account's session that has it selected,
    // through the change feed: IDLE reports it without any command.
    const owned = await alice.connect();
    assert.equal((await owned.command('SELECT Team')).status, 'OK');
    reader.send('i1 IDLE\r\n');
    assert.match(await reader.readLine(), /^\+ /);
    assert.match((await owner.command(`APPEND Team ${lit(message('second'))}`)).tagged, /^t\d+ OK /);
    assert.equal(await reader.readLine(), '* 2 EXISTS');
    reader.send('DONE\r\n');
    assert.match((await reader.until('i1')).tagged, /^i1 OK /);

    // Granting t and w: the other account's flag change reaches the owner's idling session.
    assert.match((await owner.command('SETACL Team bob@acl.example +tw')).tagged, /^t\d+ OK /);
    assert.deepEqual((await reader.command(`MYRIGHTS ${shared}`)).untagged, [`* MYRIGHTS ${shared} lrswtd`]);
    await owned.command('NOOP');
    owned.send('i2 IDLE\r\n');
    assert.match(await owned.readLine(), /^\+ /);
    r = await reader.command('STORE 2 +FLAGS (\\Deleted \\Flagged)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.match(await owned.readLine(), /^\* 2 FETCH \(UID 2 FLAGS \(\\Deleted \\Flagged( \\Recent)?\)\)$/);
    owned.send('DONE\r\n');
    await owned.until('i2');

    // CREATE under the shared mailbox needs k on it; the owner sees the new child.
    assert.match((await owner.command('SETACL Team bob@acl.example +k')).tagged, /^t\d+ OK /);
    assert.equal((await reader.command(`CREATE ${shared}/Sub`)).status, 'OK');
    assert.deepEqual((await owner.command('LIST "" "Team*"')).untagged, [
      '* LIST (\\HasChildren) "/" Team',
      '* LIST (\\HasNoChildren) "/" Team/Sub',
    ]);
    // The sub-mailbox carries no entry for bob: he does not see it.
    assert.match((await reader.command(`SELECT ${shared}/Sub`)).tagged, /^t\d+ NO \[NONEXISTENT\]/);

    // 'anyone' is every account of the owner's domain, never another domain's.
    assert.match((await owner.command('SETACL INBOX anyone lr')).tagged, /^t\d+ OK /);
    assert.deepEqual((await owner.command('GETACL INBOX')).untagged, [
      '* ACL INBOX alice@acl.example lrswipkxteacd anyone lr',
    ]);
    assert.deepEqual((await reader.command('MYRIGHTS Shared/alice@acl.example/INBOX')).untagged, [
      '* MYRIGHTS Shared/alice@acl.example/INBOX lr',
    ]);
    const outsider = await carol.connect();
    assert.deepEqual((await outsider.command('LIST "" "Shared*"')).untagged, []);
    for (const command of [
      `MYRIGHTS ${shared}`,
      'MYRIGHTS Shared/alice@acl.example/INBOX',
      `SELECT ${shared}`,
      `GETACL ${shared}`,
    ])
      assert.match((await outsider.command(command)).tagged, /^t\d+ NO \[NONEXISTENT\]/, command);
    assert.match(
      (await outsider.command(`APPEND ${shared} ${lit(message('from carol'))}`)).tagged,
      /^t\d+ NO \[TRYCREATE\]/,
    );

    // DELETEACL revokes at once, also for the session that has the mailbox selected.
    assert.equal((await reader.command(`SELECT ${shared}`)).status, 'OK');
    assert.match((await owner.command('DELETEACL Team bob@acl.example')).tagged, /^t\d+ OK /);
    assert.match((await reader.command('FETCH 1 FLAGS')).tagged, /^t\d+ NO \[NOPERM\]/);
    assert.deepEqual((await reader.command('LIST "" "Shared/*/Team"')).untagged, []);
    assert.deepEqual((await owner.command('GETACL Team')).untagged, [
      '* ACL Team alice@acl.example lrswipkxteacd',
    ]);
  });

  it('replies name c and d when any right of their group is held; an empty identifier is BAD (RFC 4314 2.1.1, 3)', async () => {
    const hana = await account('hana@cd.example');
    const ivan = await account('ivan@cd.example');
    const owner = await hana.connect();
    assert.equal((await owner.command('CREATE Desk')).status, 'OK');
    const desk = 'Shared/hana@cd.example/Desk';
    const other = await ivan.connect();
    // "When any of the create (delete) member rights is set ... the server MUST also include the c (d)
    // right when returning the list in a MYRIGHTS or ACL response."
    for (const [granted, shown] of [
      ['lrk', 'lrkc'],
      ['lrx', 'lrxc'],
      ['lrt', 'lrtd'],
      ['lre', 'lred'],
      ['lrc', 'lrkxc'],
      ['lrd', 'lrted'],
    ] as const) {
      assert.match((await owner.command(`SETACL Desk ivan@cd.example ${granted}`)).tagged, /^t\d+ OK /);
      assert.deepEqual((await owner.command('GETACL Desk')).untagged, [
        `* ACL Desk hana@cd.example lrswipkxteacd ivan@cd.example ${shown}`,
      ]);
      assert.deepEqual((await other.command(`MYRIGHTS ${desk}`)).untagged, [`* MYRIGHTS ${desk} ${shown}`]);
    }
    // The owner can be granted every create and delete right: LISTRIGHTS names c and d too.
    assert.deepEqual((await owner.command('LISTRIGHTS Desk hana@cd.example')).untagged, [
      '* LISTRIGHTS Desk hana@cd.example lrswipkxteacd',
    ]);
    // "If the preparation of the identifier ... results in an empty string, the server MUST refuse
    // to perform the command with a BAD response."
    for (const command of ['SETACL Desk "" lr', 'DELETEACL Desk ""', 'LISTRIGHTS Desk ""'])
      assert.match((await owner.command(command)).tagged, /^t\d+ BAD /, command);
  });

  it('MYRIGHTS needs one of l r i k x a (RFC 4314 4); without l the mailbox is answered for as missing', async () => {
    const nora = await account('nora@myrights.example');
    const otto = await account('otto@myrights.example');
    const owner = await nora.connect();
    assert.equal((await owner.command('CREATE Box')).status, 'OK');
    const box = 'Shared/nora@myrights.example/Box';
    const other = await otto.connect();
    for (const rights of ['s', 'w', 'p', 't', 'e', 'swpte']) {
      assert.match((await owner.command(`SETACL Box otto@myrights.example ${rights}`)).tagged, /^t\d+ OK /);
      assert.match((await other.command(`MYRIGHTS ${box}`)).tagged, /^t\d+ NO \[NONEXISTENT\]/, rights);
    }
    for (const [rights, shown] of [
      ['i', 'i'],
      ['k', 'kc'],
      ['x', 'xc'],
      ['a', 'a'],
      ['r', 'r'],
      ['ls', 'ls'],
    ] as const) {
      assert.match((await owner.command(`SETACL Box otto@myrights.example ${rights}`)).tagged, /^t\d+ OK /);
      assert.deepEqual(
        (await other.command(`MYRIGHTS ${box}`)).untagged,
        [`* MYRIGHTS ${box} ${shown}`],
        rights,
      );
    }
  });

  it('SELECT is READ-WRITE with any of i, e or a flag right, READ-ONLY with none (RFC 4314 5.2)', async () => {
    const pia = await account('pia@rw.example');
    const rolf = await account('rolf@rw.example');
    const owner = await pia.connect();
    assert.equal((await owner.command('CREATE Inbox2')).status, 'OK');
    const box = 'Shared/pia@rw.example/Inbox2';
    const other = await rolf.connect();
    // "Example 2: The user that has "rit" rights ... READ-WRITE ..., as the user has "i" right."
    for (const [rights, code, permanent] of [
      ['lri', 'READ-WRITE', ''],
      ['lre', 'READ-WRITE', ''],
      ['lrit', 'READ-WRITE', '\\Deleted'],
      ['lr', 'READ-ONLY', ''],
    ] as const) {
      assert.match((await owner.command(`SETACL Inbox2 rolf@rw.example ${rights}`)).tagged, /^t\d+ OK /);
      const r = await other.command(`SELECT ${box}`);
      assert.match(r.tagged, new RegExp(`^t\\d+ OK \\[${code}\\]`), rights);
      assert.ok(
        r.untagged.includes(`* OK [PERMANENTFLAGS (${permanent})] Flags permitted`),
        r.untagged.join('|'),
      );
    }
  });

  it('STORE FLAGS with only some of s, t, w changes the flags it may and keeps the others, as Dovecot (RFC 4314 4: SHOULD NOT fail)', async () => {
    const sara = await account('sara@replace.example');
    const tom = await account('tom@replace.example');
    await file.fx.deliver(sara.id, message('flagged'), { flags: ['\\Deleted', '\\Flagged', '$Label'] });
    const owner = await sara.connect();
    assert.match((await owner.command('SETACL INBOX tom@replace.example lrs')).tagged, /^t\d+ OK /);
    const other = await tom.connect();
    assert.equal((await other.command('SELECT Shared/sara@replace.example/INBOX')).status, 'OK');
    const flagsOf = (lines: string[]) =>
      new Set(
        /FLAGS \(([^)]*)\)/
          .exec(lines.find((l) => l.startsWith('* 1 FETCH')) ?? '')?.[1]
          ?.split(' ')
          .filter((f) => f !== '\\Recent' && f !== ''),
      );
    let r = await other.command('STORE 1 FLAGS (\\Seen)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(flagsOf(r.untagged), new Set(['\\Deleted', '\\Flagged', '$Label', '\\Seen']));
    r = await other.command('STORE 1 FLAGS ()');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(flagsOf(r.untagged), new Set(['\\Deleted', '\\Flagged', '$Label']));
    // s and w but not t: everything but \Deleted is replaced.
    assert.match((await owner.command('SETACL INBOX tom@replace.example lrsw')).tagged, /^t\d+ OK /);
    r = await other.command('STORE 1 FLAGS (\\Answered \\Seen)');
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(flagsOf(r.untagged), new Set(['\\Answered', '\\Deleted', '\\Seen']));
    // The owner sees the same flags.
    await owner.command('EXAMINE INBOX');
    assert.deepEqual(
      flagsOf((await owner.command('FETCH 1 FLAGS')).untagged),
      new Set(['\\Answered', '\\Deleted', '\\Seen']),
    );
  });

  it('APPEND, COPY, MOVE and REPLACE store only the flags the target rights allow (RFC 4314 4)', async () => {
    const jan = await account('jan@flags.example');
    const kim = await account('kim@flags.example');
    const owner = await jan.connect();
    assert.equal((await owner.command('CREATE Drop')).status, 'OK');
    const drop = 'Shared/jan@flags.example/Drop';
    const other = await kim.connect();
    const flagsOf = async () => {
      await owner.command('EXAMINE Drop');
      const r = await owner.command('FETCH 1:* (FLAGS)');
      return r.untagged.map((l) => /FLAGS \(([^)]*)\)/.exec(l)![1]!.replace(/ ?\\Recent/, ''));
    };
    // i alone: the message is stored, none of its flags.
    assert.match((await owner.command('SETACL Drop kim@flags.example lri')).tagged, /^t\d+ OK /);
    let r = await other.command(`APPEND ${drop} (\\Seen \\Deleted \\Flagged $Label) ${lit(message('a'))}`);
    assert.match(r.tagged, /^t\d+ OK \[APPENDUID /);
    // i with s and t: \Seen and \Deleted only (w is needed for the others).
    assert.match((await owner.command('SETACL Drop kim@flags.example lrist')).tagged, /^t\d+ OK /);
    r = await other.command(`APPEND ${drop} (\\Seen \\Deleted \\Flagged $Label) ${lit(message('b'))}`);
    assert.match(r.tagged, /^t\d+ OK \[APPENDUID /);
    // COPY and MOVE from kim's own INBOX: the same rule for the copies' flags.
    assert.match(
      (await other.command(`APPEND INBOX (\\Seen \\Answered $Label) ${lit(message('c'))}`)).tagged,
      /^t\d+ OK /,
    );
    assert.match(
      (await other.command(`APPEND INBOX (\\Deleted \\Flagged) ${lit(message('d'))}`)).tagged,
      /^t\d+ OK /,
    );
    assert.match(
      (await other.command(`APPEND INBOX (\\Seen \\Draft) ${lit(message('e'))}`)).tagged,
      /^t\d+ OK /,
    );
    assert.equal((await other.command('SELECT INBOX')).status, 'OK');
    assert.match((await owner.command('SETACL Drop kim@flags.example lriw')).tagged, /^t\d+ OK /);
    assert.match((await other.command(`COPY 1 ${drop}`)).tagged, /^t\d+ OK \[COPYUID /);
    assert.match((await owner.command('SETACL Drop kim@flags.example lrit')).tagged, /^t\d+ OK /);
    assert.match((await other.command(`MOVE 2 ${drop}`)).tagged, /^t\d+ OK /);
    assert.match((await owner.command('SETACL Drop kim@flags.example lri')).tagged, /^t\d+ OK /);
    r = await other.command(`REPLACE 1 ${drop} (\\Seen \\Flagged) ${lit(message('f'))}`);
    assert.equal(r.status, 'OK', r.tagged);
    assert.deepEqual(await flagsOf(), ['', '\\Deleted \\Seen', '$Label \\Answered', '\\Deleted', '']);
  });

  it("METADATA (RFC 5464 3.3) and GETQUOTAROOT (RFC 9208) on another account's mailbox answer by the rights", async () => {
    const dora = await account('dora@meta.example');
    const eve = await account('eve@meta.example');
    const owner = await dora.connect();
    assert.equal((await owner.command('CREATE Board')).status, 'OK');
    assert.equal((await owner.command('CREATE Hidden')).status, 'OK');
    assert.equal((await owner.command('SETMETADATA Board (/shared/comment "team board")')).status, 'OK');
    assert.match((await owner.command('SETACL Board eve@meta.example lr')).tagged, /^t\d+ OK /);
    const other = await eve.connect();
    const board = 'Shared/dora@meta.example/Board';
    // l and r: shared entries are read; private entries are eve's own, set with l and r.
    assert.deepEqual((await other.command(`GETMETADATA ${board} /shared/comment`)).untagged, [
      `* METADATA ${board} (/shared/comment "team board")`,
    ]);
    assert.match((await other.command(`SETMETADATA ${board} (/private/comment "mine")`)).tagged, /^t\d+ OK /);
    assert.deepEqual((await other.command(`GETMETADATA ${board} /private/comment`)).untagged, [
      `* METADATA ${board} (/private/comment "mine")`,
    ]);
    // The owner does not see eve's private entry.
    assert.deepEqual((await owner.command('GETMETADATA Board /private/comment')).untagged, [
      '* METADATA Board (/private/comment NIL)',
    ]);
    // Shared entries are written with w only.
    assert.match(
      (await other.command(`SETMETADATA ${board} (/shared/comment "defaced")`)).tagged,
      /^t\d+ NO \[NOPERM\]/,
    );
    assert.match((await owner.command('SETACL Board eve@meta.example lrw')).tagged, /^t\d+ OK /);
    assert.match(
      (await other.command(`SETMETADATA ${board} (/shared/comment "edited")`)).tagged,
      /^t\d+ OK /,
    );
    assert.deepEqual((await owner.command('GETMETADATA Board /shared/comment')).untagged, [
      '* METADATA Board (/shared/comment "edited")',
    ]);
    // A mailbox without l is answered for as missing, with l but no r as NOPERM.
    const hidden = 'Shared/dora@meta.example/Hidden';
    assert.match(
      (await other.command(`GETMETADATA ${hidden} /shared/comment`)).tagged,
      /^t\d+ NO \[NONEXISTENT\]/,
    );
    assert.match((await other.command(`GETQUOTAROOT ${hidden}`)).tagged, /^t\d+ NO \[NONEXISTENT\]/);
    assert.match((await owner.command('SETACL Hidden eve@meta.example l')).tagged, /^t\d+ OK /);
    assert.match(
      (await other.command(`GETMETADATA ${hidden} /shared/comment`)).tagged,
      /^t\d+ NO \[NOPERM\]/,
    );
    // GETQUOTAROOT names the owner's quota root, which GETQUOTA then answers.
    await file.fx.db.pool.query('UPDATE accounts SET quota_bytes = 10240 WHERE id = $1', [dora.id]);
    const root = await other.command(`GETQUOTAROOT ${board}`);
    assert.equal(root.status, 'OK', root.tagged);
    assert.deepEqual(root.untagged, [
      `* QUOTAROOT ${board} Shared/dora@meta.example`,
      '* QUOTA Shared/dora@meta.example (STORAGE 0 10)',
    ]);
    assert.deepEqual((await other.command('GETQUOTA "Shared/dora@meta.example"')).untagged, [
      '* QUOTA Shared/dora@meta.example (STORAGE 0 10)',
    ]);
    assert.match(
      (await other.command('GETQUOTA "Shared/nobody@meta.example"')).tagged,
      /^t\d+ NO \[NONEXISTENT\]/,
    );
  });

  it("a PERMANENTFLAGS sent later for a new keyword stays narrowed to the session's rights (RFC 4314 4, RFC 9051 7.1)", async () => {
    const frank = await account('frank@perm.example');
    const gina = await account('gina@perm.example');
    const owner = await frank.connect();
    assert.equal((await owner.command('CREATE Desk')).status, 'OK');
    await file.fx.deliver(frank.id, message('keyworded'), { mailbox: 'Desk' });
    assert.match((await owner.command('SETACL Desk gina@perm.example lrs')).tagged, /^t\d+ OK /);
    const other = await gina.connect();
    const selected = await other.command('SELECT Shared/frank@perm.example/Desk');
    assert.ok(
      selected.untagged.includes('* OK [PERMANENTFLAGS (\\Seen)] Flags permitted'),
      selected.untagged.join('|'),
    );
    // The owner sets a keyword the mailbox did not have: gina hears of the new FLAGS, and her
    // PERMANENTFLAGS still lists only \Seen (no w: no keywords, no \*).
    await owner.command('SELECT Desk');
    assert.equal((await owner.command('STORE 1 +FLAGS (urgent)')).status, 'OK');
    await file.fx.deliver(frank.id, message('marker'), { mailbox: 'Desk' });
    let seen: string[] = [];
    await eventually('the marker message in the shared session', async () => {
      seen = seen.concat((await other.command('NOOP')).untagged);
      return seen.some((l) => /EXISTS/.test(l)) || undefined;
    });
    assert.ok(
      seen.some((l) => /^\* FLAGS \(.*urgent/.test(l)),
      seen.join('|'),
    );
    const permanent = seen.filter((l) => l.includes('PERMANENTFLAGS'));
    assert.deepEqual(permanent, ['* OK [PERMANENTFLAGS (\\Seen)] Flags permitted']);
  });

  it('rights changed while a mailbox is selected send a new PERMANENTFLAGS at the next command (RFC 4314 5.1.1)', async () => {
    const lena = await account('lena@rights.example');
    const mats = await account('mats@rights.example');
    const owner = await lena.connect();
    assert.equal((await owner.command('CREATE Board')).status, 'OK');
    assert.match((await owner.command('SETACL Board mats@rights.example lrswt')).tagged, /^t\d+ OK /);
    const other = await mats.connect();
    const selected = await other.command('SELECT Shared/lena@rights.example/Board');
    assert.ok(
      selected.untagged.includes(
        '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft \\*)] Flags permitted',
      ),
      selected.untagged.join('|'),
    );
    // "If the server checks the rights on each command, then it SHOULD send FLAGS and PERMANENTFLAGS
    // responses if they have changed."
    assert.match((await owner.command('SETACL Board mats@rights.example lrs')).tagged, /^t\d+ OK /);
    assert.deepEqual((await other.command('NOOP')).untagged, [
      '* OK [PERMANENTFLAGS (\\Seen)] Flags permitted',
    ]);
    assert.deepEqual((await other.command('NOOP')).untagged, []);
    assert.match((await owner.command('SETACL Board mats@rights.example +w')).tagged, /^t\d+ OK /);
    assert.deepEqual((await other.command('CHECK')).untagged, [
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Draft \\Seen \\*)] Flags permitted',
    ]);
  });

  it("a change to a shared mailbox reaches the other account's session on another replica", async () => {
    const second = await file.fx.startReplica();
    const olga = await account('olga@replica.example');
    const per = await account('per@replica.example', () => second.imapsPort);
    const owner = await olga.connect();
    assert.match((await owner.command('SETACL INBOX per@replica.example lr')).tagged, /^t\d+ OK /);
    const reader = await per.connect();
    const r = await reader.command('EXAMINE Shared/olga@replica.example/INBOX');
    assert.match(r.tagged, /^t\d+ OK \[READ-ONLY\]/);
    assert.ok(r.untagged.includes('* 0 EXISTS'), r.untagged.join('\n'));
    reader.send('i1 IDLE\r\n');
    assert.match(await reader.readLine(), /^\+ /);
    assert.match(
      (await owner.command(`APPEND INBOX ${lit(message('across replicas'))}`)).tagged,
      /^t\d+ OK /,
    );
    assert.equal(await reader.readLine(), '* 1 EXISTS');
    reader.send('DONE\r\n');
    assert.match((await reader.until('i1')).tagged, /^i1 OK /);
  });

  it('Python imaplib: SETACL, GETACL, MYRIGHTS and a shared SELECT', async () => {
    await requireTool('python3', 'apt-get install python3');
    await account('dora@py.example');
    await account('emil@py.example');
    const script = `
import imaplib, os, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
port = int(os.environ['PORT'])
d = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
d.login('dora@py.example', os.environ['PW'])
assert 'ACL' in d.capabilities, d.capabilities
typ, data = d.setacl('INBOX', 'emil@py.example', 'lr')
assert typ == 'OK', data
typ, data = d.getacl('INBOX')
assert typ == 'OK' and data == [b'INBOX dora@py.example lrswipkxteacd emil@py.example lr'], data
typ, data = d.myrights('INBOX')
assert typ == 'OK' and data == [b'INBOX lrswipkxteacd'], data
typ, data = d.append('INBOX', None, None, b'Subject: shared\\r\\n\\r\\nhello\\r\\n')
assert typ == 'OK', data
d.logout()
e = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
e.login('emil@py.example', os.environ['PW'])
typ, data = e.namespace()
assert data == [b'(("" "/")) (("Shared/" "/")) NIL'], data
typ, data = e.myrights('Shared/dora@py.example/INBOX')
assert typ == 'OK' and data == [b'Shared/dora@py.example/INBOX lr'], data
typ, data = e.getacl('Shared/dora@py.example/INBOX')
assert typ == 'NO', data
typ, data = e.select('Shared/dora@py.example/INBOX', readonly=True)
assert typ == 'OK' and data == [b'1'], data
typ, data = e.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')
assert b'Subject: shared' in data[0][1], data
e.logout()
print('ok')
`;
    const result = await run('python3', ['-c', script], {
      env: { ...process.env, PORT: String(file.fx.service.imapsPort), PW: PASSWORD },
      timeoutMs: 60_000,
    });
    assert.equal(result.stdout.trim(), 'ok', result.stderr);
  });
});
