/** The production registry: every command and test of the supported extensions. */
import { Registry } from './core.js';
import { registerBase } from './ext/base.js';
import { registerImap4flags } from './ext/imap4flags.js';
import { registerVacation } from './ext/vacation.js';
import { registerVariables } from './ext/variables.js';

function build(): Registry {
  const reg = new Registry();
  registerBase(reg);
  registerImap4flags(reg);
  registerVariables(reg);
  registerVacation(reg);
  for (const e of ['relational', 'subaddress', 'regex']) reg.known.add(e);
  return reg;
}

export const defaultRegistry: Registry = build();
