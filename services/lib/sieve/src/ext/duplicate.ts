/** duplicate (RFC 7352): ids are hashed; the caller records them once delivery succeeded. */
import { createHash } from 'node:crypto';
import { type Registry, str } from '../core.js';

export function registerDuplicate(reg: Registry): void {
  reg.known.add('duplicate');
  reg.add({
    name: 'duplicate',
    kind: 'test',
    ext: 'duplicate',
    pos: [],
    tags: {
      handle: { arg: 'string' },
      header: { arg: 'string', group: 'source' },
      uniqueid: { arg: 'string', group: 'source' },
      seconds: { arg: 'number' },
      last: {},
    },
    validate(node, ctx) {
      const h = str(node.tags.header);
      if (h !== undefined && !/^[\x21-\x39\x3b-\x7e]+$/.test(h))
        ctx.error(node, `invalid header name '${h}' for duplicate test`);
    },
    async test(node, rt) {
      let source: string | undefined;
      if (node.tags.uniqueid !== undefined) source = rt.estr(node.tags.uniqueid);
      else {
        const name = node.tags.header !== undefined ? rt.estr(node.tags.header) : 'message-id';
        source = rt.headerValues({ ...node, tags: {} }, [name])[0];
      }
      if (source === undefined) return false;
      const handle = node.tags.handle !== undefined ? rt.estr(node.tags.handle) : '';
      const id = createHash('sha256')
        .update(`${handle}\0${node.tags.header !== undefined ? 'h' : 'u'}\0${source}`)
        .digest('hex');
      const seconds =
        typeof node.tags.seconds === 'number' ? Math.min(node.tags.seconds, 7 * 86400) : 7 * 86400;
      const already = rt.state.duplicates.find((d) => d.id === id);
      const seen = already
        ? true
        : rt.env.duplicateTracker
          ? await rt.host(() => rt.env.duplicateTracker!.seen(id))
          : false;
      if (!already && (!seen || node.tags.last !== undefined)) rt.state.duplicates.push({ id, seconds });
      return seen;
    },
  });
}
