import type { Envelope } from '../mime/parse-mime.js';
import { BadArgumentsError } from '../protocol/errors.js';
import { baseSubject, decodeEncodedWords, subjectInfo } from './base-subject.js';

/** What SORT and THREAD need to know about one message. */
export interface ThreadInput {
  uid: number;
  seq: number;
  size: number;
  internalDate: Date;
  envelope: Envelope;
  references: string[];
}

export type SortKey = {
  key: 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
  reverse: boolean;
};

export function parseSortCriteria(atoms: string[]): SortKey[] {
  const keys: SortKey[] = [];
  let reverse = false;
  for (const atom of atoms.map((a) => a.toUpperCase())) {
    if (atom === 'REVERSE') {
      if (reverse) throw new BadArgumentsError('REVERSE twice');
      reverse = true;
      continue;
    }
    if (
      !['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'].includes(atom)
    )
      throw new BadArgumentsError(`Unknown sort key ${atom}`);
    keys.push({ key: atom as SortKey['key'], reverse });
    reverse = false;
  }
  if (reverse || keys.length === 0) throw new BadArgumentsError('Invalid sort criteria');
  return keys;
}

/** The sent date (Date header, else internal date), RFC 5256 2.2. */
export function sentDate(m: ThreadInput): number {
  const parsed = m.envelope.date ? Date.parse(m.envelope.date.replace(/\s*\([^)]*\)\s*$/, '')) : Number.NaN;
  return Number.isFinite(parsed) ? parsed : m.internalDate.getTime();
}

/**
 * RFC 5256 3: the addr-mailbox of the first address. When the list starts with a group, that is
 * the group's start, whose mailbox is the group name (RFC 3501 7.4.2).
 */
const firstMailbox = (list: Envelope['from']) => (list[0]?.mailbox ?? '').toUpperCase();

/**
 * SORT=DISPLAY (RFC 5957 3): the decoded display name of the first address, or its addr-spec
 * (mailbox@host; a group's name for a group) when it has none, compared case-insensitively.
 */
function displayName(list: Envelope['from']): string {
  const first = list[0];
  if (!first) return '';
  const name = first.name ? decodeEncodedWords(first.name).trim() : '';
  const spec = first.host ? `${first.mailbox ?? ''}@${first.host}` : (first.mailbox ?? '');
  return (name || spec).toUpperCase();
}

function value(m: ThreadInput, key: SortKey['key']): string | number {
  switch (key) {
    case 'ARRIVAL':
      return m.internalDate.getTime();
    case 'DATE':
      return sentDate(m);
    case 'SIZE':
      return m.size;
    case 'SUBJECT':
      return baseSubject(m.envelope.subject);
    case 'FROM':
      return firstMailbox(m.envelope.from);
    case 'TO':
      return firstMailbox(m.envelope.to);
    case 'CC':
      return firstMailbox(m.envelope.cc);
    case 'DISPLAYFROM':
      return displayName(m.envelope.from);
    case 'DISPLAYTO':
      return displayName(m.envelope.to);
  }
}

export function sortMessages(messages: ThreadInput[], keys: SortKey[]): ThreadInput[] {
  return [...messages].sort((a, b) => {
    for (const { key, reverse } of keys) {
      const x = value(a, key);
      const y = value(b, key);
      const c = x < y ? -1 : x > y ? 1 : 0;
      if (c !== 0) return reverse ? -c : c;
    }
    return a.seq - b.seq;
  });
}

/** A thread tree node: a message number, or an empty container (0) holding children. */
export interface ThreadNode {
  id: number;
  date: number;
  children: ThreadNode[];
}

/** RFC 5256 thread order: sent date, then order in the mailbox. */
const byDateThenSeq = (a: { date: number; seq: number }, b: { date: number; seq: number }) =>
  a.date - b.date || a.seq - b.seq;

/** Formats threads as RFC 5256 lists: (1 2 (3)(4)). */
export function formatThreads(roots: ThreadNode[]): string {
  const format = (node: ThreadNode): string => {
    const parts: string[] = [];
    let current: ThreadNode | undefined = node;
    // A chain of single children stays flat: (1 2 3).
    while (current) {
      if (current.id !== 0) parts.push(String(current.id));
      if (current.children.length === 1) current = current.children[0];
      else {
        if (current.children.length > 1) parts.push(current.children.map((c) => `(${format(c)})`).join(''));
        current = undefined;
      }
    }
    return parts.join(' ');
  };
  return roots.map((r) => `(${format(r)})`).join('');
}

/** THREAD=ORDEREDSUBJECT: one thread per base subject, in sent-date order, every later message a child of the first. */
export function threadOrderedSubject(
  messages: ThreadInput[],
  idOf: (m: ThreadInput) => number,
): ThreadNode[] {
  const sorted = [...messages].sort((a, b) => {
    const sa = baseSubject(a.envelope.subject);
    const sb = baseSubject(b.envelope.subject);
    return sa < sb ? -1 : sa > sb ? 1 : sentDate(a) - sentDate(b) || a.seq - b.seq;
  });
  const groups = new Map<string, ThreadInput[]>();
  for (const m of sorted) {
    const key = baseSubject(m.envelope.subject);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  const threads = [...groups.values()].map((group) => ({
    date: sentDate(group[0]!),
    seq: group[0]!.seq,
    node: {
      id: idOf(group[0]!),
      date: sentDate(group[0]!),
      children: group.slice(1).map((m) => ({ id: idOf(m), date: sentDate(m), children: [] })),
    },
  }));
  return threads.sort(byDateThenSeq).map((t) => t.node);
}

interface Container {
  message?: ThreadInput;
  parent?: Container;
  children: Container[];
}

/** THREAD=REFERENCES (RFC 5256 3, after Jamie Zawinski's algorithm). */
export function threadReferences(messages: ThreadInput[], idOf: (m: ThreadInput) => number): ThreadNode[] {
  const table = new Map<string, Container>();
  const containerFor = (id: string) => {
    let c = table.get(id);
    if (!c) {
      c = { children: [] };
      table.set(id, c);
    }
    return c;
  };
  const isAncestor = (a: Container, b: Container) => {
    for (let p: Container | undefined = b; p; p = p.parent) if (p === a) return true;
    return false;
  };
  const link = (parent: Container, child: Container) => {
    if (child.parent || parent === child || isAncestor(child, parent)) return;
    child.parent = parent;
    parent.children.push(child);
  };
  const unlink = (child: Container) => {
    if (!child.parent) return;
    child.parent.children = child.parent.children.filter((c) => c !== child);
    child.parent = undefined;
  };
  let unique = 0;
  for (const m of messages) {
    // The msg-id itself: a Message-ID field may carry comments and folding around it.
    let id = /<[^<>\s]+>/.exec(m.envelope.messageId ?? '')?.[0] ?? '';
    if (!id || table.get(id)?.message) id = `<hermod-unique-${unique++}>`;
    const container = containerFor(id);
    container.message = m;
    const refs = m.references;
    let previous: Container | undefined;
    for (const ref of refs) {
      const c = containerFor(ref);
      if (previous) link(previous, c);
      previous = c;
    }
    // Step 1.B: whatever parent was guessed before is broken off; the last reference becomes the
    // parent unless it lies below the message (a loop), which leaves the message without one.
    unlink(container);
    if (previous) link(previous, container);
  }
  let roots = [...table.values()].filter((c) => !c.parent);
  // Prune empty containers: drop childless ones, promote children of the others (not to the root unless one).
  const prune = (list: Container[], atRoot: boolean): Container[] => {
    const out: Container[] = [];
    for (const c of list) {
      c.children = prune(c.children, false);
      if (c.message) out.push(c);
      else if (c.children.length === 0) continue;
      else if (!atRoot || c.children.length === 1) {
        for (const child of c.children) child.parent = c.parent;
        out.push(...c.children);
      } else out.push(c);
    }
    return out;
  };
  roots = prune(roots, true);
  // Steps 4 and 6: siblings by sent date, then mailbox order; a dummy sorts by its first child
  // (after its own children are sorted).
  const keyOf = (c: Container): { date: number; seq: number } =>
    c.message ? { date: sentDate(c.message), seq: c.message.seq } : keyOf(c.children[0]!);
  const sortTree = (list: Container[]) => {
    for (const c of list) sortTree(c.children);
    list.sort((a, b) => byDateThenSeq(keyOf(a), keyOf(b)));
  };
  sortTree(roots);
  // Step 5: threads whose subjects agree are merged - by these rules only.
  const subjectOf = (c: Container) => subjectInfo((c.message ?? c.children[0]?.message)?.envelope.subject);
  const subjects = new Map<string, Container>();
  for (const root of roots) {
    const { base, replyOrForward } = subjectOf(root);
    if (!base) continue;
    const held = subjects.get(base);
    if (!held) subjects.set(base, root);
    else if (held.message && (!root.message || (subjectOf(held).replyOrForward && !replyOrForward)))
      subjects.set(base, root);
  }
  const merged = new Set<Container>();
  const top = [...roots];
  for (const current of roots) {
    if (merged.has(current)) continue;
    const { base, replyOrForward } = subjectOf(current);
    const held = base ? subjects.get(base) : undefined;
    if (!held || held === current) continue;
    merged.add(current);
    top.splice(top.indexOf(current), 1);
    if (!held.message && !current.message) {
      held.children.push(...current.children);
    } else if (!held.message || (replyOrForward && !subjectOf(held).replyOrForward)) {
      held.children.push(current);
    } else {
      const dummy: Container = { children: [held, current] };
      top[top.indexOf(held)] = dummy;
      merged.add(held);
      subjects.set(base, dummy);
    }
  }
  sortTree(top);
  const toNode = (c: Container): ThreadNode => ({
    id: c.message ? idOf(c.message) : 0,
    date: keyOf(c).date,
    children: c.children.map(toNode),
  });
  return top.map(toNode);
}
