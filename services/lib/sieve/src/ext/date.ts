/** date and currentdate (RFC 5260); :index/:last (index extension) apply to date like to header. */
import { COMPARATOR_TAGS, list, type Node, type Registry, str } from '../core.js';
import { parseRfc2822Date } from '../message.js';
import type { Runtime } from '../runtime.js';
import { checkHeaderNames, INDEX_TAGS, validateIndex } from './base.js';
import { validateMatch } from './common.js';

const PARTS = new Set([
  'year',
  'month',
  'day',
  'date',
  'julian',
  'hour',
  'minute',
  'second',
  'time',
  'iso8601',
  'std11',
  'zone',
  'weekday',
]);
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

function zoneString(offset: number): string {
  const sign = offset < 0 ? '-' : '+';
  const a = Math.abs(offset);
  return `${sign}${pad(Math.floor(a / 60))}${pad(a % 60)}`;
}

/** Parses a :zone argument ("+hhmm"/"-hhmm") to minutes; undefined when invalid. */
export function parseZone(z: string): number | undefined {
  const m = /^([+-])(\d{2})(\d{2})$/.exec(z);
  if (!m) return undefined;
  const h = Number(m[2]);
  const min = Number(m[3]);
  if (min > 59) return undefined;
  return (h * 60 + min) * (m[1] === '-' ? -1 : 1);
}

export function datePart(time: number, offset: number, part: string): string {
  const d = new Date(time + offset * 60000);
  const Y = d.getUTCFullYear();
  const M = d.getUTCMonth() + 1;
  const D = d.getUTCDate();
  const h = d.getUTCHours();
  const m = d.getUTCMinutes();
  const s = d.getUTCSeconds();
  switch (part) {
    case 'year':
      return pad(Y, 4);
    case 'month':
      return pad(M);
    case 'day':
      return pad(D);
    case 'date':
      return `${pad(Y, 4)}-${pad(M)}-${pad(D)}`;
    case 'julian':
      return String(Math.floor(Date.UTC(Y, M - 1, D) / 86400000) + 40587);
    case 'hour':
      return pad(h);
    case 'minute':
      return pad(m);
    case 'second':
      return pad(s);
    case 'time':
      return `${pad(h)}:${pad(m)}:${pad(s)}`;
    case 'iso8601': {
      const z = offset === 0 ? 'Z' : `${zoneString(offset).slice(0, 3)}:${zoneString(offset).slice(3)}`;
      return `${pad(Y, 4)}-${pad(M)}-${pad(D)}T${pad(h)}:${pad(m)}:${pad(s)}${z}`;
    }
    case 'std11':
      return `${DAYS[d.getUTCDay()]}, ${D} ${MONTHS[M - 1]} ${pad(Y, 4)} ${pad(h)}:${pad(m)}:${pad(s)} ${zoneString(offset)}`;
    case 'zone':
      return zoneString(offset);
    case 'weekday':
      return String(d.getUTCDay());
    default:
      return '';
  }
}

function validateDate(
  node: Node,
  ctx: Parameters<NonNullable<import('../core.js').CommandDef['validate']>>[1],
  partIndex: number,
): void {
  const part = str(node.pos[partIndex])!;
  if (!(ctx.has('variables') && part.includes('${')) && !PARTS.has(part.toLowerCase()))
    ctx.error(node, `invalid date part '${part}'`);
  const zone = str(node.tags.zone);
  if (zone !== undefined && !(ctx.has('variables') && zone.includes('${')) && parseZone(zone) === undefined)
    ctx.error(node, `invalid :zone argument '${zone}'`);
  validateMatch(node, ctx, list(node.pos[partIndex + 1]));
}

function localOffset(rt: Runtime): number {
  return -rt.env.now.getTimezoneOffset();
}

export function registerDate(reg: Registry): void {
  reg.known.add('date');
  reg.known.add('index');
  const zoneTags = { zone: { arg: 'string' as const, group: 'zone' }, originalzone: { group: 'zone' } };
  reg.add({
    name: 'date',
    kind: 'test',
    ext: 'date',
    pos: ['string', 'string', 'stringlist'],
    tags: { ...COMPARATOR_TAGS, ...zoneTags, ...INDEX_TAGS },
    validate(node, ctx) {
      checkHeaderNames(node, ctx, [str(node.pos[0])!], 'date test');
      validateDate(node, ctx, 1);
      validateIndex(node, ctx);
    },
    test(node, rt) {
      const header = rt.estr(node.pos[0]);
      const part = rt.estr(node.pos[1]).toLowerCase();
      let raws = rt.headerValues(node, [header]);
      if (header.toLowerCase() === 'received') raws = raws.map((r) => r.slice(r.lastIndexOf(';') + 1).trim());
      const values: string[] = [];
      for (const raw of raws) {
        const parsed = parseRfc2822Date(raw);
        if (!parsed) continue;
        let offset: number;
        if (node.tags.originalzone !== undefined) offset = parsed.offsetMinutes;
        else if (node.tags.zone !== undefined) {
          const z = parseZone(rt.estr(node.tags.zone));
          if (z === undefined) continue;
          offset = z;
        } else offset = localOffset(rt);
        values.push(datePart(parsed.time, offset, part));
      }
      return rt.match(node, values, list(node.pos[2]));
    },
  });
  reg.add({
    name: 'currentdate',
    kind: 'test',
    ext: 'date',
    pos: ['string', 'stringlist'],
    tags: { ...COMPARATOR_TAGS, zone: { arg: 'string' } },
    validate(node, ctx) {
      validateDate(node, ctx, 0);
    },
    test(node, rt) {
      const part = rt.estr(node.pos[0]).toLowerCase();
      let offset = localOffset(rt);
      if (node.tags.zone !== undefined) {
        const z = parseZone(rt.estr(node.tags.zone));
        if (z === undefined) return false;
        offset = z;
      }
      return rt.match(node, [datePart(rt.env.now.getTime(), offset, part)], list(node.pos[1]));
    },
  });
}
