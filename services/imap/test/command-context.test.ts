import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { CommandContext } from '../src/session/command-context.js';

const src = join(import.meta.dirname, '..', 'src');

/**
 * Compile-time: what a command receives is read-only except through the session's methods. Each
 * line below must fail to type-check (`tsc` reports an unused @ts-expect-error otherwise); the
 * function is never called.
 */
export function commandsCannotWriteSessionState(session: CommandContext): void {
  // @ts-expect-error the selected mailbox changes only through select() / deselect()
  session.selected = undefined;
  // @ts-expect-error the state changes only through login() / select() / deselect()
  session.state = 'selected';
  // @ts-expect-error extensions are enabled only through enable()
  session.enabled.add('CONDSTORE');
  // @ts-expect-error IDLE goes through idle()
  session.idling = true;
  // @ts-expect-error NOTIFY goes through setNotifier()
  session.notifier = undefined;
  // @ts-expect-error the change flag is set through mailboxChanged()
  session.dirty = true;
  // @ts-expect-error failed logins are counted through recordAuthFailure()
  session.authFailures++;
  // @ts-expect-error storage goes through session.backend (its change events carry the session id)
  void session.deps.backend;
  // @ts-expect-error change feeds are followed through login() / followAccount()
  void session.deps.changes;
  const box = session.selected!;
  // @ts-expect-error the view's UIDs change only when the session syncs or reports expunges
  box.uids.push(1);
  // @ts-expect-error SEARCHRES is saved through saveSearch()
  box.savedSearch = [];
  // @ts-expect-error expunges are applied by the session (reportExpunges)
  box.removeUid(1);
  // @ts-expect-error update contexts are kept and cancelled through the view's methods
  box.contexts.delete('A1');
}

function sources(folder: string): Array<{ file: string; text: string }> {
  return readdirSync(join(src, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts'))
    .map((file) => ({ file: join(folder, file), text: readFileSync(join(src, folder, file), 'utf8') }));
}

describe('IMAP command context', () => {
  it('commands and the ACL helpers see CommandContext, never the ImapSession class', () => {
    const files = [...sources('commands'), ...sources('acl')];
    assert.ok(files.length > 30, 'the command files were found');
    const reaching = files.filter(({ text }) => /session\/session\.js'|\bImapSession\b/.test(text));
    assert.deepEqual(
      reaching.map((f) => f.file),
      [],
    );
  });
});
