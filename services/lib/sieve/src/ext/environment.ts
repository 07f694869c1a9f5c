/** environment (RFC 5183) and ihave (RFC 5463). */
import { COMPARATOR_TAGS, list, type Registry } from '../core.js';
import { SIEVE_EXTENSIONS } from '../extensions.js';
import { validateMatch } from './common.js';

/** Extensions that change how a script is read cannot be tested for at run time (RFC 5463 section 4). */
const NOT_VIA_IHAVE = new Set(['encoded-character', 'variables']);

export function ihaveAvailable(ext: string, known: ReadonlySet<string>): boolean {
  return !NOT_VIA_IHAVE.has(ext) && SIEVE_EXTENSIONS.includes(ext) && known.has(ext);
}

export function registerEnvironment(reg: Registry): void {
  reg.known.add('environment');
  reg.known.add('ihave');
  reg.add({
    name: 'environment',
    kind: 'test',
    ext: 'environment',
    pos: ['string', 'stringlist'],
    tags: { ...COMPARATOR_TAGS },
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[1]));
    },
    test(node, rt) {
      const value = rt.environmentItem(rt.estr(node.pos[0]).toLowerCase());
      if (value === undefined) return false;
      return rt.match(node, [value], list(node.pos[1]));
    },
  });
  reg.add({
    name: 'ihave',
    kind: 'test',
    ext: 'ihave',
    pos: ['stringlist'],
    test(node, rt) {
      return rt.elist(node.pos[0]).every((e) => ihaveAvailable(e.toLowerCase(), rt.registry.known));
    },
  });
  reg.add({
    name: 'error',
    kind: 'command',
    ext: 'ihave',
    pos: ['string'],
    run(node, rt) {
      rt.error(node, rt.estr(node.pos[0]));
    },
  });
}
