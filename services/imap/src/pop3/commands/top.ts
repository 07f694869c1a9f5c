import { dotStuff } from '../dot-stuff.js';
import { type Pop3Command, Pop3State } from '../pop3-session.js';
import { GONE, presentBody } from '../present-body.js';

/** TOP n lines: the header, the blank line, then the first n body lines. */
export const topCommand: Pop3Command = {
  name: 'TOP',
  states: [Pop3State.Transaction],
  async run(session, args) {
    const message = session.message(args[0]);
    if (!message || !args[1] || !/^\d{1,9}$/.test(args[1]))
      return { ok: false, text: 'Usage: TOP msg lines' };
    const lines = Number(args[1]);
    const { root } = await session.backend.structure(message.bodyId);
    const backend = session.backend;
    async function* excerpt(): AsyncGenerator<Buffer> {
      yield* backend.readRange(message!.bodyId, 0, root.bodyStart);
      let remaining = lines;
      if (remaining === 0) return;
      for await (const chunk of backend.readRange(message!.bodyId, root.bodyStart, root.bodyEnd)) {
        let end = 0;
        while (remaining > 0 && end < chunk.length) {
          const lf = chunk.indexOf(0x0a, end);
          if (lf < 0) {
            end = chunk.length;
            break;
          }
          end = lf + 1;
          remaining--;
        }
        yield chunk.subarray(0, end);
        if (remaining === 0) return;
      }
    }
    const body = await presentBody(message, excerpt());
    if (!body) return { ok: false, text: GONE };
    return { ok: true, text: 'Top of message follows', body: dotStuff(body) };
  },
};
