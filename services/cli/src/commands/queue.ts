import { hostname } from 'node:os';
import {
  bounceQueued,
  deleteQueued,
  holdQueued,
  listQueue,
  OUTBOUND_WAKE_SUBJECT,
  operatorFinishDeps,
  parseDuration,
  type QueueItem,
  type QueueSelection,
  type QueueState,
  queueStates,
  releaseQueued,
  retryQueued,
} from '@hermod/outbound-mta';
import { type CliCommand, type CliContext, parseFlags, subcommandError, UsageError } from '../command.js';

const help = `hermod queue: the outbound delivery queue (one entry per remote recipient)

Usage:
  hermod queue list [FILTERS] [--limit N] [--json]
  hermod queue show <queue-id> [--json]
  hermod queue retry   (<queue-id>... | FILTERS | --all) [--json]   due now; workers are woken
  hermod queue hold    (<queue-id>... | FILTERS | --all) [--json]   no delivery attempts until released
  hermod queue release (<queue-id>... | FILTERS | --all) [--json]   held entries back on schedule, due now
  hermod queue delete  (<queue-id>... | FILTERS | --all) [--json]   drop, no notice to the sender
  hermod queue bounce  (<queue-id>... | FILTERS | --all) [--reason TEXT] [--json]
                                                  return to the sender with a DSN, as a 5xx would

A queue id is a message's spool id (all its queued recipients) or <spool-id>:<recipient-index>.

Filters (all given must match):
  --domain D          recipient domain
  --sender A          envelope sender ('' for the null sender); * matches anything, e.g. '*@example.org'
  --recipient A       recipient address; * as above
  --older-than AGE    accepted at least AGE ago: 90s, 30m, 4h, 2d
  --state S           queued (never tried), deferred (failed temporarily), held, active (attempt in flight)

An attempt in flight finishes; delete and bounce leave such entries alone and say so.`;

const filterFlags = ['domain', 'sender', 'recipient', 'older-than', 'state'];
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function queueId(value: string): { spoolId: string; rcptIndex?: number } {
  const [spoolId, index, extra] = value.split(':');
  if (!spoolId || !uuid.test(spoolId) || extra !== undefined || (index !== undefined && !/^\d+$/.test(index)))
    throw new UsageError(`'${value}' is not a queue id (<spool-id> or <spool-id>:<recipient-index>)`);
  return index === undefined ? { spoolId } : { spoolId, rcptIndex: Number(index) };
}

function selection(values: Record<string, string>, positional: string[]): QueueSelection {
  const s: QueueSelection = {};
  if (positional.length > 0) s.ids = positional.map(queueId);
  if (values.domain !== undefined) s.domain = values.domain;
  if (values.sender !== undefined) s.sender = values.sender;
  if (values.recipient !== undefined) s.recipient = values.recipient;
  if (values['older-than'] !== undefined) {
    const ms = parseDuration(values['older-than']);
    if (ms === undefined) throw new UsageError(`--older-than: '${values['older-than']}' is not a duration`);
    s.olderThanMs = ms;
  }
  if (values.state !== undefined) {
    if (!(queueStates as readonly string[]).includes(values.state))
      throw new UsageError(`--state must be one of ${queueStates.join(', ')}`);
    s.state = values.state as QueueState;
  }
  return s;
}

/** 95 -> "1m", 7300 -> "2h"; the largest whole unit. */
function age(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  const text =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.floor(s / 60)}m`
        : s < 86400
          ? `${Math.floor(s / 3600)}h`
          : `${Math.floor(s / 86400)}d`;
  return ms < 0 ? `-${text}` : text;
}

const queueIdOf = (i: QueueItem) => `${i.spoolId}:${i.rcptIndex}`;

function table(items: QueueItem[], now: number): string {
  const rows = items.map((i) => [
    queueIdOf(i),
    i.state,
    String(i.attempts),
    age(now - i.queuedAt.getTime()),
    i.state === 'held' || i.state === 'active'
      ? '-'
      : i.nextAttemptAt.getTime() <= now
        ? 'now'
        : `in ${age(i.nextAttemptAt.getTime() - now)}`,
    i.mailFrom === '' ? '<>' : i.mailFrom,
    i.recipient,
    // The last column: shown whole (a cut reply hides its point), the terminal wraps it.
    i.lastReply ?? '',
  ]);
  const head = ['QUEUE-ID', 'STATE', 'TRIES', 'AGE', 'NEXT', 'SENDER', 'RECIPIENT', 'LAST REPLY'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  return [head, ...rows]
    .map((r) =>
      r
        .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function show(items: QueueItem[], now: number): string {
  const first = items[0]!;
  const lines = [
    `message:   ${first.spoolId}`,
    `sender:    ${first.mailFrom === '' ? '<>' : first.mailFrom}`,
    `accepted:  ${first.queuedAt.toISOString()} (${age(now - first.queuedAt.getTime())} ago)`,
    `size:      ${first.size} bytes`,
  ];
  for (const i of items)
    lines.push(
      '',
      `recipient ${i.rcptIndex}: ${i.recipient}`,
      `  state:         ${i.state}`,
      `  attempts:      ${i.attempts}`,
      `  next attempt:  ${i.state === 'held' ? '(held)' : i.nextAttemptAt.toISOString()}`,
      `  last attempt:  ${i.lastAttemptAt?.toISOString() ?? '-'}`,
      `  last host:     ${i.lastHost ?? '-'}`,
      `  last TLS:      ${i.lastTls ?? '-'}`,
      `  last reply:    ${i.lastReply ?? '-'}`,
      `  gives up at:   ${i.expiresAt.toISOString()}`,
    );
  return lines.join('\n');
}

/** Core NATS poke so every outbound-mta replica scans the queue now instead of at its next poll. */
async function wakeWorkers(ctx: CliContext): Promise<void> {
  try {
    const nc = await ctx.nats();
    nc.publish(OUTBOUND_WAKE_SUBJECT);
    await nc.flush();
  } catch (error) {
    ctx.stderr.write(
      `hermod queue: could not wake the workers (${(error as Error).message}); they pick the change up at their next poll\n`,
    );
  }
}

const actions = ['retry', 'hold', 'release', 'delete', 'bounce'] as const;
const done: Record<(typeof actions)[number], string> = {
  retry: 'due now',
  hold: 'held',
  release: 'released',
  delete: 'deleted',
  bounce: 'bounced to their senders',
};

export const queueCommand: CliCommand = {
  name: 'queue',
  help,
  async run(args, ctx) {
    const [sub, ...rest] = args;
    const now = Date.now();
    switch (sub) {
      case 'list': {
        const flags = parseFlags(rest, { values: [...filterFlags, 'limit'], switches: ['json'] });
        if (flags.positional.length > 0) throw new UsageError('list takes filters, not queue ids');
        const limit = Number(flags.values.limit ?? 1000);
        if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a positive integer');
        const items = await listQueue(await ctx.db(), selection(flags.values, []), limit);
        if (flags.switches.has('json')) ctx.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
        else if (items.length === 0) ctx.stdout.write('queue is empty (for this selection)\n');
        else {
          const messages = new Set(items.map((i) => i.spoolId)).size;
          ctx.stdout.write(
            `${table(items, now)}\n-- ${items.length} recipient(s) in ${messages} message(s)\n`,
          );
        }
        return 0;
      }
      case 'show': {
        const flags = parseFlags(rest, { switches: ['json'] });
        const [id, extra] = flags.positional;
        if (!id || extra) throw new UsageError('show takes exactly one queue id');
        const items = await listQueue(await ctx.db(), { ids: [queueId(id)] });
        if (items.length === 0) {
          ctx.stderr.write(`hermod queue: ${id} is not in the outbound queue\n`);
          return 1;
        }
        ctx.stdout.write(
          flags.switches.has('json') ? `${JSON.stringify(items, null, 2)}\n` : `${show(items, now)}\n`,
        );
        return 0;
      }
      case 'retry':
      case 'hold':
      case 'release':
      case 'delete':
      case 'bounce': {
        const flags = parseFlags(rest, { values: [...filterFlags, 'reason'], switches: ['json', 'all'] });
        const chosen = selection(flags.values, flags.positional);
        const narrowed = Object.keys(chosen).length > 0;
        if (narrowed === flags.switches.has('all'))
          throw new UsageError(`${sub} takes queue ids or filters, or --all for the whole queue (not both)`);
        if (flags.values.reason !== undefined && sub !== 'bounce' && sub !== 'delete')
          throw new UsageError('--reason applies to bounce and delete');
        const pool = await ctx.db();
        const owner = `hermod-cli:${hostname()}:${process.pid}`;
        let changed: QueueItem[];
        let inFlight = 0;
        if (sub === 'retry' || sub === 'release') {
          changed = await (sub === 'retry' ? retryQueued : releaseQueued)(pool, chosen);
          if (changed.length > 0) await wakeWorkers(ctx);
        } else if (sub === 'hold') changed = await holdQueued(pool, chosen);
        else {
          // A bounce's DSN is handed to routing over JetStream: connect before anything changes.
          if (sub === 'bounce') await ctx.nats();
          const js = async () => (await ctx.nats()).jetstream();
          const deps = operatorFinishDeps(pool, js, ctx.env.OUTBOUND_HELO_NAME ?? hostname());
          const reason =
            flags.values.reason ??
            (sub === 'bounce' ? 'returned to sender by the postmaster' : 'deleted by the postmaster');
          const result = await (sub === 'bounce' ? bounceQueued : deleteQueued)(deps, owner, chosen, reason);
          changed = result.removed;
          inFlight = result.inFlight;
        }
        if (flags.switches.has('json'))
          ctx.stdout.write(
            `${JSON.stringify({ action: sub, count: changed.length, inFlight, items: changed }, null, 2)}\n`,
          );
        else {
          for (const i of changed) ctx.stdout.write(`${queueIdOf(i)}  ${i.recipient}\n`);
          ctx.stdout.write(`${changed.length} recipient(s) ${done[sub]}\n`);
        }
        if (inFlight > 0)
          ctx.stderr.write(`hermod queue: ${inFlight} recipient(s) left alone: delivery attempt in flight\n`);
        return 0;
      }
      default:
        throw subcommandError(sub, ['list', 'show', ...actions]);
    }
  },
};
