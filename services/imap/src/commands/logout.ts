import { anyState } from '../session/states.js';
import { defineCommand } from './command.js';

export const logoutCommand = defineCommand({
  name: 'LOGOUT',
  states: anyState,
  parse: (args) => args.end(),
  async run(session, _args, tag) {
    session.untagged('BYE Logging out');
    session.tagged(tag, { status: 'OK', text: 'LOGOUT completed' });
    session.close();
    return { status: 'OK', text: '', silent: true };
  },
});
