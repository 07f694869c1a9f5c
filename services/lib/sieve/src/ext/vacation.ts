/** vacation (RFC 5230) and vacation-seconds (RFC 6131), with the RFC 3834 checks of whom never to answer. */
import { createHash } from 'node:crypto';
import { list, type Registry, str } from '../core.js';
import { parseAddressList, parsePath } from '../message.js';
import type { InternalAction, RunState } from '../runtime.js';

const DAY = 86400;

export function registerVacation(reg: Registry): void {
  reg.known.add('vacation');
  reg.known.add('vacation-seconds');
  reg.add({
    name: 'vacation',
    kind: 'command',
    ext: 'vacation',
    pos: ['string'],
    tags: {
      days: { arg: 'number', group: 'period' },
      seconds: { arg: 'number', group: 'period', ext: 'vacation-seconds' },
      subject: { arg: 'string' },
      from: { arg: 'string' },
      addresses: { arg: 'stringlist' },
      mime: {},
      handle: { arg: 'string' },
    },
    validate(node, ctx) {
      const from = str(node.tags.from);
      if (
        from !== undefined &&
        !(ctx.has('variables') && from.includes('${')) &&
        !parseAddressList(from)?.length
      )
        ctx.error(node, `specified :from address '${from}' is invalid for vacation action`);
      for (const a of list(node.tags.addresses)) {
        if (ctx.has('variables') && a.includes('${')) continue;
        if (!parsePath(a)) ctx.error(node, `specified :addresses item '${a}' is invalid for vacation action`);
      }
    },
    run(node, rt) {
      const reason = rt.estr(node.pos[0]);
      const subjectTag = node.tags.subject !== undefined ? rt.estr(node.tags.subject) : undefined;
      const from = node.tags.from !== undefined ? rt.estr(node.tags.from) : undefined;
      const mime = node.tags.mime !== undefined;
      const seconds = vacationPeriod(
        rt.state,
        node.tags.seconds,
        node.tags.days,
        rt.requires.has('vacation-seconds'),
      );
      const handle =
        node.tags.handle !== undefined
          ? rt.estr(node.tags.handle)
          : createHash('sha1')
              .update(`${reason}\0${subjectTag ?? ''}\0${from ?? ''}\0${mime}`)
              .digest('hex');
      const original = rt.headerValues(node, ['subject'])[0];
      const subject = subjectTag ?? (original !== undefined ? `Auto: ${original}` : 'Automated reply');
      rt.addAction(node, {
        kind: 'vacation',
        ...(from !== undefined ? { from } : {}),
        subject,
        reason,
        mime,
        seconds,
        handle,
        addresses: rt.elist(node.tags.addresses),
      });
    },
  });
}

/** The default :days (RFC 5230 4.1) and the longest period unless configured (as Pigeonhole's). */
const DEFAULT_PERIOD = 7 * DAY;
const DEFAULT_MAX_PERIOD = 60 * DAY;

/**
 * The period of one sender's replies: :seconds, :days (at least one day, RFC 5230 4.1, unless
 * vacation-seconds allows 0, RFC 6131 2) or 7 days, held within the site's minimum and maximum (a value
 * out of range gets the limit, RFC 5230 4.1).
 */
function vacationPeriod(state: RunState, seconds: unknown, days: unknown, secondsExt: boolean): number {
  const asked =
    typeof seconds === 'number'
      ? seconds
      : typeof days === 'number'
        ? Math.max(secondsExt ? 0 : 1, days) * DAY
        : DEFAULT_PERIOD;
  const max = state.env.vacationMaxSeconds ?? DEFAULT_MAX_PERIOD;
  const min = Math.min(state.env.vacationMinSeconds ?? 0, max);
  return Math.min(max, Math.max(min, asked));
}

const LIST_HEADERS = [
  'list-id',
  'list-help',
  'list-subscribe',
  'list-unsubscribe',
  'list-post',
  'list-owner',
  'list-archive',
];
/** Senders that are robots by name (RFC 3834 2, RFC 5230 4.6), with or without a sub-address. */
const SYSTEM_SENDERS =
  /^(mailer-daemon|postmaster|listserv|majordomo|owner-.*|.*-request|.*-owner|.*-bounces?|noreply|no-reply)(\+.*)?$/i;

/**
 * RFC 3834 / RFC 5230 4.5: no reply to the null sender, system senders, auto-submitted, list or bulk mail,
 * nor when none of the recipient's addresses is among To/Cc/Bcc/Resent-*. The once-per-period rule is the
 * caller's (it tracks handle and sender).
 */
export function vacationAllowed(state: RunState, action: InternalAction & { kind: 'vacation' }): boolean {
  const msg = state.message;
  const sender = parsePath(msg.source.envelopeFrom);
  if (!sender) return false;
  if (SYSTEM_SENDERS.test(sender.localPart)) return false;
  const header = (name: string) =>
    msg.headers.filter((h) => h.name.toLowerCase() === name).map((h) => h.raw.replace(/\r?\n/g, '').trim());
  const auto = header('auto-submitted');
  if (auto.some((v) => !/^no\b/i.test(v))) return false;
  if (LIST_HEADERS.some((h) => header(h).length > 0)) return false;
  if (header('precedence').some((v) => /^(bulk|list|junk)\b/i.test(v))) return false;
  if (header('x-auto-response-suppress').some((v) => /\b(all|oof|autoreply)\b/i.test(v))) return false;
  // loop markers other autoresponders and list software set
  if (['x-loop', 'x-autoreply', 'x-autorespond'].some((h) => header(h).length > 0)) return false;
  const mine = userAddresses(state, action);
  if (mine.includes(`${sender.localPart}@${sender.domain}`.toLowerCase())) return false;
  if (state.env.vacationDontCheckRecipient) return true;
  return namedUserAddress(state, mine) !== undefined;
}

/**
 * The recipient's own addresses (RFC 5230 4.5): the envelope recipient, the original one if so configured,
 * the account's further addresses the host names, :addresses.
 */
function userAddresses(state: RunState, action: InternalAction & { kind: 'vacation' }): string[] {
  const msg = state.message;
  const all = [
    msg.source.envelopeTo,
    state.env.vacationUseOriginalRecipient ? (msg.source.originalRecipient ?? '') : '',
    ...(state.env.userAddresses ?? []),
    ...action.addresses,
  ]
    .map((a) => parsePath(a))
    .filter((a) => a !== null)
    .map((a) => `${a.localPart}@${a.domain}`.toLowerCase());
  return [...new Set(all)];
}

/** The first of the user's addresses the message names in To/Cc/Bcc/Resent-*, as the message wrote it. */
function namedUserAddress(state: RunState, mine: readonly string[]): string | undefined {
  return ['to', 'cc', 'bcc', 'resent-to', 'resent-cc', 'resent-bcc']
    .flatMap((name) =>
      state.message.headers
        .filter((h) => h.name.toLowerCase() === name)
        .map((h) => h.raw.replace(/\r?\n/g, '').trim()),
    )
    .flatMap((v) => parseAddressList(v) ?? [])
    .map((a) => `${a.localPart}@${a.domain}`)
    .find((a) => mine.includes(a.toLowerCase()));
}

/**
 * The reply's From without :from: the user's address the original message was sent to (so a message to an
 * alias listed in :addresses is answered from that alias), else the envelope recipient (RFC 5230 4.5).
 */
export function vacationReplyFrom(state: RunState, action: InternalAction & { kind: 'vacation' }): string {
  if (action.from !== undefined) return action.from;
  return namedUserAddress(state, userAddresses(state, action)) ?? state.message.source.envelopeTo;
}
