import { type Pop3Command, type Pop3Message, type Pop3Session, Pop3State } from '../pop3-session.js';

/** LIST and UIDL share their shape: one message by number, or all undeleted ones. */
export function scanListing(
  name: string,
  value: (session: Pop3Session, message: Pop3Message) => string,
): Pop3Command {
  return {
    name,
    states: [Pop3State.Transaction],
    async run(session, args) {
      if (args[0] !== undefined) {
        const message = session.message(args[0]);
        if (!message) return { ok: false, text: 'No such message' };
        return { ok: true, text: `${args[0]} ${value(session, message)}` };
      }
      const lines = session.messages.flatMap((m, i) =>
        session.deleted.has(i + 1) ? [] : [`${i + 1} ${value(session, m)}\r\n`],
      );
      return { ok: true, text: 'Listing follows', body: [Buffer.from(`${lines.join('')}.\r\n`)] };
    },
  };
}

export const listCommand = scanListing('LIST', (_, m) => String(m.size));
