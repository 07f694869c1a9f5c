import type { CliCommand } from '../command.js';
import { domainCommand } from './domain.js';
import { userCommand } from './user.js';

// One line per command group; keep sorted.
export const commands: CliCommand[] = [domainCommand, userCommand];
