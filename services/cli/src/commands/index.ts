import type { CliCommand } from '../command.js';
import { aliasCommand } from './alias.js';
import { appPasswordCommand } from './app-password.js';
import { domainCommand } from './domain.js';
import { queueCommand } from './queue.js';
import { routeCommand } from './route.js';
import { userCommand } from './user.js';

// One line per command group; keep sorted.
export const commands: CliCommand[] = [
  aliasCommand,
  appPasswordCommand,
  domainCommand,
  queueCommand,
  routeCommand,
  userCommand,
];
