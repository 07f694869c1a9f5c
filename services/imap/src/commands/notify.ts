import { Notifier } from '../session/notifier.js';
import { authenticated } from '../session/states.js';
import { defineCommand, no, ok } from './command.js';
import { parseNotify, SUPPORTED_EVENTS } from './notify-grammar.js';

/**
 * NOTIFY SET [STATUS] event-groups / NOTIFY NONE (RFC 5465 section 3.1). SET replaces the
 * session's notifications (an implicit NOOP first); NONE ends them. Events the server does not
 * deliver are refused with NO [BADEVENT (the supported ones)], leaving the previous SET in force.
 */
export const notifyCommand = defineCommand({
  name: 'NOTIFY',
  states: authenticated,
  parse: (args, session) => parseNotify(args, (cursor) => cursor.mailbox(session.utf8)),
  async run(session, request) {
    if (request.kind === 'none') {
      session.setNotifier(undefined);
      return ok('NOTIFY completed');
    }
    if (request.unsupported.length > 0)
      return no(
        `Unsupported event ${request.unsupported[0]!.slice(0, 40)}`,
        `BADEVENT (${SUPPORTED_EVENTS.join(' ')})`,
      );
    // A successful NOTIFY SET implies a NOOP: what changed in the selected mailbox is reported now.
    if (session.selected) await session.sync(true);
    const notifier = await Notifier.start(session, request.spec, session.deps.limits.notifyMaxQueue);
    if (request.spec.status) await notifier.sendInitialStatus();
    session.setNotifier(notifier);
    return ok('NOTIFY completed');
  },
});
