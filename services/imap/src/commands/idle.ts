import { defineCommand, ok } from './command.js';

/** IDLE (RFC 2177): changes are pushed as they arrive (NATS events) until the client sends DONE. */
export const idleCommand = defineCommand({
  name: 'IDLE',
  states: ['authenticated', 'selected'],
  parse: (args) => args.end(),
  async run(session) {
    session.write('+ idling\r\n');
    return session.idle(async () => {
      if (session.selected) await session.sync(true);
      const line = await session.readLine();
      if (line === null) return ok('IDLE terminated');
      if (line.trim().toUpperCase() !== 'DONE') return { status: 'BAD', text: 'Expected DONE' };
      return ok('IDLE terminated');
    });
  },
});
