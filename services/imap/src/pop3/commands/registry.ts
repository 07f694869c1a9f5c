import type { Pop3Command } from '../pop3-session.js';
import { capaCommand } from './capa.js';
import { deleCommand } from './dele.js';
import { listCommand } from './list.js';
import { authCommand, passCommand, userCommand } from './login.js';
import { quitCommand } from './quit.js';
import { retrCommand } from './retr.js';
import { noopCommand, rsetCommand } from './rset.js';
import { statCommand } from './stat.js';
import { stlsCommand } from './stls.js';
import { topCommand } from './top.js';
import { uidlCommand } from './uidl.js';

export function createPop3Registry(): ReadonlyMap<string, Pop3Command> {
  const commands = [
    capaCommand,
    stlsCommand,
    userCommand,
    passCommand,
    authCommand,
    quitCommand,
    statCommand,
    listCommand,
    uidlCommand,
    retrCommand,
    topCommand,
    deleCommand,
    rsetCommand,
    noopCommand,
  ];
  return new Map(commands.map((c) => [c.name, c]));
}
