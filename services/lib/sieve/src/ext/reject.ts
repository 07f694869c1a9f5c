/** reject and ereject (RFC 5429). */
import type { Registry } from '../core.js';

export function registerReject(reg: Registry): void {
  reg.known.add('reject');
  reg.known.add('ereject');
  for (const name of ['reject', 'ereject'] as const) {
    reg.add({
      name,
      kind: 'command',
      ext: name,
      pos: ['string'],
      run(node, rt) {
        rt.addAction(node, { kind: 'reject', reason: rt.estr(node.pos[0]), extended: name === 'ereject' });
      },
    });
  }
}
