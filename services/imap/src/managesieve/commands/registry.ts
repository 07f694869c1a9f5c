import type { SieveCommand } from '../session.js';
import { authenticateCommand } from './authenticate.js';
import { capabilityCommand } from './capability.js';
import { checkscriptCommand } from './checkscript.js';
import { deletescriptCommand } from './deletescript.js';
import { getscriptCommand } from './getscript.js';
import { havespaceCommand } from './havespace.js';
import { listscriptsCommand } from './listscripts.js';
import { logoutCommand } from './logout.js';
import { noopCommand } from './noop.js';
import { putscriptCommand } from './putscript.js';
import { renamescriptCommand } from './renamescript.js';
import { setactiveCommand } from './setactive.js';
import { starttlsCommand } from './starttls.js';
import { unauthenticateCommand } from './unauthenticate.js';

/** The ManageSieve verbs (RFC 5804 2) and their commands. */
export function createManageSieveRegistry(): ReadonlyMap<string, SieveCommand> {
  const commands = [
    capabilityCommand,
    starttlsCommand,
    authenticateCommand,
    logoutCommand,
    noopCommand,
    unauthenticateCommand,
    putscriptCommand,
    checkscriptCommand,
    setactiveCommand,
    getscriptCommand,
    listscriptsCommand,
    deletescriptCommand,
    renamescriptCommand,
    havespaceCommand,
  ];
  return new Map(commands.map((c) => [c.name, c]));
}
