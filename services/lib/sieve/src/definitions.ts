/** The production registry: every command and test of the supported extensions. */
import { Registry } from './core.js';
import { registerBase } from './ext/base.js';
import { registerBody } from './ext/body.js';
import { registerDate } from './ext/date.js';
import { registerDuplicate } from './ext/duplicate.js';
import { registerEditheader } from './ext/editheader.js';
import { registerEnotify } from './ext/enotify.js';
import { registerEnvironment } from './ext/environment.js';
import { registerImap4flags } from './ext/imap4flags.js';
import { registerInclude } from './ext/include.js';
import { registerMailbox } from './ext/mailbox.js';
import { registerMime } from './ext/mime.js';
import { registerReject } from './ext/reject.js';
import { registerSpamtest } from './ext/spamtest.js';
import { registerVacation } from './ext/vacation.js';
import { registerVariables } from './ext/variables.js';

function build(): Registry {
  const reg = new Registry();
  registerBase(reg);
  registerImap4flags(reg);
  registerVariables(reg);
  registerVacation(reg);
  registerReject(reg);
  registerBody(reg);
  registerDate(reg);
  registerMailbox(reg);
  registerSpamtest(reg);
  registerDuplicate(reg);
  registerInclude(reg);
  registerEditheader(reg);
  registerEnvironment(reg);
  registerEnotify(reg);
  registerMime(reg);
  for (const e of ['relational', 'subaddress', 'regex']) reg.known.add(e);
  return reg;
}

export const defaultRegistry: Registry = build();
