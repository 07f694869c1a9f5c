import { type Pop3Command, Pop3State } from '../pop3-session.js';

/** QUIT: in TRANSACTION, enters UPDATE and removes the messages marked with DELE. */
export const quitCommand: Pop3Command = {
  name: 'QUIT',
  states: [Pop3State.Authorization, Pop3State.Transaction],
  async run(session) {
    if (session.state === Pop3State.Transaction && session.user && session.deleted.size > 0) {
      session.state = Pop3State.Update;
      const uids = [...session.deleted].map((n) => session.messages[n - 1]!.uid);
      // One statement: a failure removes nothing and leaves no message flagged \Deleted behind.
      await session.backend.remove(session.user.id, session.mailboxId, uids);
    }
    // Free the maildrop before the reply: a client's next session must not find it locked.
    await session.unlock();
    session.write('+OK Bye\r\n');
    session.close();
    return { ok: true, text: '', silent: true };
  },
};
