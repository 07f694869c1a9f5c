import { anyState } from '../session/states.js';
import { defineCommand, ok } from './command.js';

/** NOOP and CHECK: the session reports pending mailbox changes after every such command. */
export const noopCommand = defineCommand({
  name: 'NOOP',
  states: anyState,
  parse: (args) => args.end(),
  run: async () => ok('NOOP completed'),
});

export const checkCommand = defineCommand({
  name: 'CHECK',
  states: ['selected'],
  parse: (args) => args.end(),
  run: async () => ok('CHECK completed'),
});
