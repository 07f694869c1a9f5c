/** mailbox (RFC 5490: :create, mailboxexists), mailboxid (RFC 9042) and special-use (RFC 8579). */
import type { Registry } from '../core.js';
import { validMailboxName, validSpecialUseFlag } from './base.js';

export function registerMailbox(reg: Registry): void {
  for (const e of ['mailbox', 'mailboxid', 'special-use']) reg.known.add(e);
  reg.extend('fileinto', 'command', {
    create: { ext: 'mailbox' },
    mailboxid: { ext: 'mailboxid', arg: 'string' },
    specialuse: { ext: 'special-use', arg: 'string' },
  });
  reg.add({
    name: 'mailboxexists',
    kind: 'test',
    ext: 'mailbox',
    pos: ['stringlist'],
    async test(node, rt) {
      for (const name of rt.elist(node.pos[0])) {
        if (!validMailboxName(name)) return false;
        const exists = rt.env.mailboxExists
          ? await rt.host(() => rt.env.mailboxExists!(name))
          : /^inbox$/i.test(name);
        if (!exists) return false;
      }
      return true;
    },
  });
  reg.add({
    name: 'mailboxidexists',
    kind: 'test',
    ext: 'mailboxid',
    pos: ['stringlist'],
    async test(node, rt) {
      for (const id of rt.elist(node.pos[0])) {
        const name = rt.env.mailboxById ? await rt.host(() => rt.env.mailboxById!(id)) : undefined;
        if (name === undefined) return false;
      }
      return true;
    },
  });
  reg.add({
    name: 'specialuse_exists',
    kind: 'test',
    ext: 'special-use',
    pos: ['string', 'stringlist'],
    optional: 1,
    validate(node, ctx) {
      const flags = node.pos.length === 2 ? node.pos[1] : node.pos[0];
      const list = Array.isArray(flags) ? flags : [String(flags)];
      for (const f of list) {
        if (ctx.has('variables') && f.includes('${')) continue;
        if (!validSpecialUseFlag(f)) ctx.error(node, `invalid special-use flag '${f}'`);
      }
      if (node.pos.length === 1) node.pos[0] = list;
    },
    async test(node, rt) {
      const mailbox = node.pos.length === 2 ? rt.estr(node.pos[0]) : undefined;
      const flags = rt.elist(node.pos[node.pos.length - 1]);
      if (mailbox !== undefined && !validMailboxName(mailbox)) return false;
      return rt.env.specialUseExists ? await rt.host(() => rt.env.specialUseExists!(mailbox, flags)) : false;
    },
  });
}
