import { ArgumentCursor } from '../protocol/arguments.js';
import { BadArgumentsError } from '../protocol/errors.js';
import type { Token } from '../protocol/parser.js';
import { type FetchItem, parseFetchItems } from './fetch.js';

/**
 * The NOTIFY command's grammar (RFC 5465 section 8):
 *
 *   notify          = "NOTIFY" SP (notify-set / notify-none)
 *   notify-set      = "SET" [SP "STATUS"] SP event-group *(SP event-group)
 *   event-group     = "(" filter-mailboxes SP events ")"
 *   filter-mailboxes = "selected" / "selected-delayed" / "inboxes" / "personal" / "subscribed" /
 *                     ("subtree" SP one-or-more-mailbox) / ("mailboxes" SP one-or-more-mailbox)
 *   events          = ("(" event *(SP event) ")") / "NONE"
 *   message-new     = "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")"]
 *
 * Every grammar or composition error is a BadArgumentsError naming the part that is wrong; event
 * names the server does not support are kept (the command answers NO [BADEVENT], not BAD).
 */

export const MESSAGE_EVENTS = ['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange'] as const;
export const MAILBOX_EVENTS = [
  'MailboxName',
  'SubscriptionChange',
  'MailboxMetadataChange',
  'ServerMetadataChange',
] as const;
export type NotifyEvent = (typeof MESSAGE_EVENTS)[number] | (typeof MAILBOX_EVENTS)[number];

/** Events this server delivers (AnnotationChange needs ANNOTATE, RFC 5257, which is not offered). */
export const SUPPORTED_EVENTS: readonly NotifyEvent[] = [
  'MessageNew',
  'MessageExpunge',
  'FlagChange',
  'MailboxName',
  'SubscriptionChange',
  'MailboxMetadataChange',
  'ServerMetadataChange',
];

export type MailboxFilter =
  | { kind: 'selected' | 'selected-delayed' | 'inboxes' | 'personal' | 'subscribed' }
  | { kind: 'subtree' | 'mailboxes'; names: string[] };

export interface EventGroup {
  filter: MailboxFilter;
  /** Empty for NONE. */
  events: ReadonlySet<NotifyEvent>;
  /** MessageNew's fetch attributes (empty: EXISTS only). */
  fetch: FetchItem[];
}

export interface NotifySpec {
  /** NOTIFY SET STATUS: a STATUS response for each watched mailbox before the tagged OK. */
  status: boolean;
  groups: EventGroup[];
}

export type NotifyRequest =
  | { kind: 'none' }
  | { kind: 'set'; spec: NotifySpec /** Event names this server does not support. */; unsupported: string[] };

const KNOWN = new Map<string, NotifyEvent>(
  [...MESSAGE_EVENTS, ...MAILBOX_EVENTS].map((name) => [name.toUpperCase(), name]),
);
const SIMPLE_FILTERS = new Set(['SELECTED', 'SELECTED-DELAYED', 'INBOXES', 'PERSONAL', 'SUBSCRIBED']);

export const isSelectedFilter = (filter: MailboxFilter): boolean =>
  filter.kind === 'selected' || filter.kind === 'selected-delayed';

/** Reads NOTIFY's arguments; mailbox names are decoded as `mailbox` decodes them (UTF-7 or UTF-8). */
export function parseNotify(
  args: ArgumentCursor,
  mailbox: (cursor: ArgumentCursor) => string,
): NotifyRequest {
  const verb = args.atom('NOTIFY SET or NONE').toUpperCase();
  if (verb === 'NONE') {
    args.end();
    return { kind: 'none' };
  }
  if (verb !== 'SET') throw new BadArgumentsError(`NOTIFY ${verb.slice(0, 20)}: expected SET or NONE`);
  let status = false;
  const first = args.peek();
  if (first?.type === 'atom' && first.value.toUpperCase() === 'STATUS') {
    status = true;
    args.next();
  }
  if (args.remaining === 0) throw new BadArgumentsError('NOTIFY SET needs at least one event group');
  const groups: EventGroup[] = [];
  const unsupported = new Set<string>();
  while (args.remaining > 0) {
    const token = args.next('event group');
    if (token.type !== 'list') throw new BadArgumentsError(`Event group ${groups.length + 1} is not a list`);
    groups.push(parseGroup(token.items, groups.length + 1, mailbox, unsupported));
  }
  const selectedGroups = groups.filter((g) => isSelectedFilter(g.filter));
  if (selectedGroups.length > 1)
    throw new BadArgumentsError('Only one of SELECTED and SELECTED-DELAYED may be given');
  return { kind: 'set', spec: { status, groups }, unsupported: [...unsupported] };
}

function parseGroup(
  items: Token[],
  index: number,
  mailbox: (cursor: ArgumentCursor) => string,
  unsupported: Set<string>,
): EventGroup {
  const cursor = new ArgumentCursor(items);
  const where = `event group ${index}`;
  const head = cursor.peek();
  if (head?.type !== 'atom') throw new BadArgumentsError(`Missing mailbox filter in ${where}`);
  cursor.next();
  const name = head.value.toUpperCase();
  let filter: MailboxFilter;
  if (SIMPLE_FILTERS.has(name)) {
    filter = { kind: name.toLowerCase() as 'selected' };
  } else if (name === 'SUBTREE' || name === 'MAILBOXES') {
    const names = oneOrMoreMailbox(cursor, mailbox, `${name.toLowerCase()} in ${where}`);
    filter = { kind: name === 'SUBTREE' ? 'subtree' : 'mailboxes', names };
  } else {
    throw new BadArgumentsError(`Unknown mailbox filter ${head.value.slice(0, 30)} in ${where}`);
  }
  const spec = cursor.peek();
  if (!spec) throw new BadArgumentsError(`Missing events in ${where}`);
  cursor.next();
  const group = parseEvents(spec, filter, where, unsupported);
  if (cursor.remaining > 0) throw new BadArgumentsError(`Unexpected data after the events of ${where}`);
  return group;
}

function oneOrMoreMailbox(
  cursor: ArgumentCursor,
  mailbox: (cursor: ArgumentCursor) => string,
  where: string,
): string[] {
  const token = cursor.peek();
  if (!token) throw new BadArgumentsError(`Missing mailbox for ${where}`);
  if (token.type === 'list') {
    cursor.next();
    if (token.items.length === 0) throw new BadArgumentsError(`Empty mailbox list for ${where}`);
    const inner = new ArgumentCursor(token.items);
    const names: string[] = [];
    while (inner.remaining > 0) names.push(mailbox(inner));
    return names;
  }
  return [mailbox(cursor)];
}

function parseEvents(
  spec: Token,
  filter: MailboxFilter,
  where: string,
  unsupported: Set<string>,
): EventGroup {
  if (spec.type === 'atom' && spec.value.toUpperCase() === 'NONE')
    return { filter, events: new Set(), fetch: [] };
  if (spec.type !== 'list') throw new BadArgumentsError(`Events of ${where} must be a list or NONE`);
  if (spec.items.length === 0) throw new BadArgumentsError(`Empty event list in ${where}`);
  const events = new Set<NotifyEvent>();
  let fetch: FetchItem[] = [];
  const tokens = spec.items;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (token.type !== 'atom') throw new BadArgumentsError(`Expected an event name in ${where}`);
    const known = KNOWN.get(token.value.toUpperCase());
    if (!known) {
      // event-ext = atom: well formed, but not one this server knows (NO [BADEVENT]).
      if (!/^[A-Za-z0-9-]+$/.test(token.value)) throw new BadArgumentsError(`Invalid event name in ${where}`);
      unsupported.add(token.value);
      continue;
    }
    events.add(known);
    if (known === 'MessageNew' && tokens[i + 1]?.type === 'list') {
      // The FETCH that carries them is only sent for the selected mailbox (RFC 5465 section 8).
      if (!isSelectedFilter(filter))
        throw new BadArgumentsError(
          `MessageNew fetch attributes are only for SELECTED and SELECTED-DELAYED (${where})`,
        );
      i++;
      try {
        fetch = parseFetchItems(tokens[i]!);
      } catch (error) {
        if (error instanceof BadArgumentsError)
          throw new BadArgumentsError(`MessageNew fetch attributes in ${where}: ${error.message}`);
        throw error;
      }
    }
    if (!SUPPORTED_EVENTS.includes(known)) unsupported.add(known);
  }
  const has = (e: NotifyEvent) => events.has(e);
  if (isSelectedFilter(filter)) {
    const other = [...events].find((e) => !(MESSAGE_EVENTS as readonly string[]).includes(e));
    if (other) throw new BadArgumentsError(`${other} cannot be used with ${filter.kind} (${where})`);
  }
  // RFC 5465 section 5: MessageNew and MessageExpunge together; FlagChange/AnnotationChange need both.
  if (has('MessageNew') !== has('MessageExpunge'))
    throw new BadArgumentsError(`MessageNew and MessageExpunge must be given together (${where})`);
  if ((has('FlagChange') || has('AnnotationChange')) && !has('MessageNew'))
    throw new BadArgumentsError(
      `${has('FlagChange') ? 'FlagChange' : 'AnnotationChange'} needs MessageNew and MessageExpunge (${where})`,
    );
  return { filter, events, fetch };
}
