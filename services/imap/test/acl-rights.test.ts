import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatRights,
  holds,
  parseModRights,
  parseRights,
  permanentFlagsFor,
  rightForFlag,
} from '../src/acl/rights.js';
import { classifyName, parentName, sharedName } from '../src/acl/shared-namespace.js';

describe('ACL rights (RFC 4314)', () => {
  it('parses rights into canonical order, each letter once', () => {
    assert.equal(parseRights('ral'), 'lra');
    assert.equal(parseRights('lrswipkxtea'), 'lrswipkxtea');
    assert.equal(parseRights('aaal'), 'la');
    assert.equal(parseRights(''), '');
  });

  it('expands the RFC 2086 rights: c is k and x, d is t and e', () => {
    assert.equal(parseRights('lrc'), 'lrkx');
    assert.equal(parseRights('lrd'), 'lrte');
    assert.equal(parseRights('cd'), 'kxte');
  });

  it('refuses unknown rights (SETACL answers BAD)', () => {
    assert.deepEqual(parseRights('lrz'), { error: 'Unknown right "z"' });
    assert.deepEqual(parseRights('L'), { error: 'Unknown right "L"' });
    assert.deepEqual(parseModRights('+q'), { error: 'Unknown right "q"' });
  });

  it('reads mod-rights: replace, + adds, - removes', () => {
    assert.deepEqual(parseModRights('lr'), { mode: 'set', rights: 'lr' });
    assert.deepEqual(parseModRights('+wi'), { mode: 'add', rights: 'wi' });
    assert.deepEqual(parseModRights('-d'), { mode: 'remove', rights: 'te' });
    assert.deepEqual(parseModRights(''), { mode: 'set', rights: '' });
  });

  it('adds c and d to replies when any right of their group is held (RFC 4314 2.1.1)', () => {
    assert.equal(formatRights('lrswipkxtea'), 'lrswipkxteacd');
    assert.equal(formatRights('lrk'), 'lrkc');
    assert.equal(formatRights('lrx'), 'lrxc');
    assert.equal(formatRights('lrt'), 'lrtd');
    assert.equal(formatRights('lre'), 'lred');
    assert.equal(formatRights('lrkx'), 'lrkxc');
    assert.equal(formatRights('lrte'), 'lrted');
    assert.equal(formatRights(''), '');
  });

  it('checks held rights and the right each flag needs', () => {
    assert.ok(holds('lrs', 'rs'));
    assert.ok(holds('lrs', ''));
    assert.ok(!holds('lrs', 'rt'));
    assert.equal(rightForFlag('\\Seen'), 's');
    assert.equal(rightForFlag('\\seen'), 's');
    assert.equal(rightForFlag('\\Deleted'), 't');
    assert.equal(rightForFlag('\\Flagged'), 'w');
    assert.equal(rightForFlag('$Label1'), 'w');
  });

  it('derives PERMANENTFLAGS and read-only from the rights', () => {
    assert.equal(permanentFlagsFor('lrswipkxtea'), 'all');
    assert.equal(permanentFlagsFor('lr'), undefined);
    assert.equal(permanentFlagsFor('lri'), undefined);
    assert.deepEqual(permanentFlagsFor('lrs'), ['\\Seen']);
    assert.deepEqual(permanentFlagsFor('lre'), []);
    assert.deepEqual(permanentFlagsFor('lrwt'), ['\\Answered', '\\Flagged', '\\Draft', '\\Deleted', '\\*']);
  });
});

describe('shared namespace (RFC 2342 other users)', () => {
  it('tells own names from shared ones and the levels between', () => {
    assert.deepEqual(classifyName('INBOX'), { kind: 'own', name: 'INBOX' });
    assert.deepEqual(classifyName('Sharedstuff'), { kind: 'own', name: 'Sharedstuff' });
    assert.deepEqual(classifyName('Shared'), { kind: 'shared-level' });
    assert.deepEqual(classifyName('Shared/Alice@Example.com'), {
      kind: 'shared-level',
      owner: 'alice@example.com',
    });
    assert.deepEqual(classifyName('Shared/alice@example.com/inbox'), {
      kind: 'shared',
      owner: 'alice@example.com',
      name: 'INBOX',
    });
    assert.deepEqual(classifyName('Shared/alice@example.com/Team/2024'), {
      kind: 'shared',
      owner: 'alice@example.com',
      name: 'Team/2024',
    });
  });

  it('names another account mailbox and finds parents', () => {
    assert.equal(sharedName('alice@example.com', 'Team'), 'Shared/alice@example.com/Team');
    assert.equal(parentName('Team/2024'), 'Team');
    assert.equal(parentName('Team'), '');
  });
});
