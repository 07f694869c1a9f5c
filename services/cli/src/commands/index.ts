import type { CliCommand } from '../command.js';
import { aliasCommand } from './alias.js';
import { domainCommand } from './domain.js';
import { queueCommand } from './queue.js';
import { routeCommand } from './route.js';
import { sieveCommand } from './sieve.js';
import { userCommand } from './user.js';
import { vacationCommand } from './vacation.js';

// One line per command group; keep sorted.
export const commands: CliCommand[] = [
  aliasCommand,
  domainCommand,
  queueCommand,
  routeCommand,
  sieveCommand,
  userCommand,
  vacationCommand,
];
