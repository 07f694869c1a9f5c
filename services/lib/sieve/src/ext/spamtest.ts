/** spamtest, spamtestplus and virustest (RFC 5235), fed from the environment (the MX's scores). */
import { COMPARATOR_TAGS, list, type Registry } from '../core.js';
import { validateMatch } from './common.js';

export function registerSpamtest(reg: Registry): void {
  for (const e of ['spamtest', 'spamtestplus', 'virustest']) reg.known.add(e);
  reg.add({
    name: 'spamtest',
    kind: 'test',
    ext: 'spamtest',
    pos: ['string'],
    tags: { ...COMPARATOR_TAGS, percent: { ext: 'spamtestplus' } },
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[0]));
    },
    test(node, rt) {
      const env = rt.env;
      let value: string;
      if (node.tags.percent !== undefined) {
        if (env.spamPercent !== undefined)
          value = String(Math.round(Math.min(100, Math.max(0, env.spamPercent))));
        else if (env.spamScore !== undefined && env.spamScore > 0)
          value = String(Math.round(((Math.min(10, env.spamScore) - 1) / 9) * 100));
        else value = '0';
      } else
        value =
          env.spamScore === undefined ? '0' : String(Math.round(Math.min(10, Math.max(0, env.spamScore))));
      return rt.match(node, [value], list(node.pos[0]));
    },
  });
  reg.add({
    name: 'virustest',
    kind: 'test',
    ext: 'virustest',
    pos: ['string'],
    tags: { ...COMPARATOR_TAGS },
    validate(node, ctx) {
      validateMatch(node, ctx, list(node.pos[0]));
    },
    test(node, rt) {
      const v = rt.env.virusScore;
      const value = v === undefined ? '0' : String(Math.round(Math.min(5, Math.max(0, v))));
      return rt.match(node, [value], list(node.pos[0]));
    },
  });
}
