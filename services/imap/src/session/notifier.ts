import type { MailboxChangeEvent } from '@hermod/pipeline';
import { holds } from '../acl/rights.js';
import { classifyName, sharedName } from '../acl/shared-namespace.js';
import { runFetch, unsolicitedFetchItems } from '../commands/fetch.js';
import { encodeName, SEPARATOR } from '../commands/list.js';
import type { NotifySpec } from '../commands/notify-grammar.js';
import { statusItems } from '../commands/status.js';
import { astring } from '../protocol/compose.js';
import type { CommandContext } from './command-context.js';
import {
  filterMatches,
  type Notification,
  notificationsFor,
  notifyStatusItems,
  selectedGroup,
  statusMailboxes,
} from './notify-filter.js';
import type { SelectedView } from './selected-mailbox.js';

const MESSAGE_EVENT_KINDS: ReadonlySet<string> = new Set(['exists', 'expunge', 'flags']);

/**
 * One session's NOTIFY SET (RFC 5465) at work: change events of the account (from this replica
 * and, over NATS, from the others) wait in a bounded queue and are turned into responses whenever
 * the session may send them: at once between commands and during IDLE, otherwise when the running
 * command ends. A queue that outgrows its bound (a client that does not read, a flood of changes)
 * ends with `* OK [NOTIFICATIONOVERFLOW]` and the session behaves as after NOTIFY NONE (section 5.8).
 */
export class Notifier {
  private queue: MailboxChangeEvent[] = [];
  private readonly queuedKeys = new Set<string>();
  private overflowed = false;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  private mailboxes = new Map<number, { name: string; specialUse: string | null }>();
  /**
   * Other accounts' mailboxes (ACL) a non-selected filter names and the user may watch (l and r,
   * RFC 5465 section 5), by id, under the names the user sees; and their owners, whose change
   * events the session hears while this NOTIFY is in force.
   */
  private shared = new Map<number, { name: string; ownerId: number }>();
  watchedOwners: ReadonlySet<number> = new Set();
  private subscribed = new Set<string>();
  /** MessageNew FETCH: the selected mailbox and the highest UID already fetched for the client. */
  private fetchedBox: SelectedView | undefined;
  private fetchedUpTo = 0;
  /** Messages this session added itself, as `mailboxId:uid` (no MessageNew FETCH for them). */
  private readonly ownMessages = new Set<string>();

  private constructor(
    private readonly session: CommandContext,
    readonly spec: NotifySpec,
    private readonly maxQueue: number,
  ) {}

  /** Loads the mailbox and subscription lists the filters need, and marks what is already known. */
  static async start(session: CommandContext, spec: NotifySpec, maxQueue: number): Promise<Notifier> {
    const notifier = new Notifier(session, spec, maxQueue);
    notifier.subscribed = new Set(await session.backend.listSubscriptions(session.user!.id));
    await notifier.reload();
    const box = session.selected;
    if (box) {
      notifier.fetchedBox = box;
      notifier.fetchedUpTo = box.maxUid;
    }
    return notifier;
  }

  /** Events (or an overflow) wait to be sent. */
  get pending(): boolean {
    return !this.stopped && (this.queue.length > 0 || this.overflowed);
  }

  /** NOTIFY SET STATUS: the STATUS of each watched mailbox other than the selected one. */
  async sendInitialStatus(): Promise<void> {
    const list = [...this.mailboxes, ...this.shared].map(([id, box]) => ({ id, name: box.name }));
    for (const box of statusMailboxes(this.spec, list, this.session.selected?.id, this.subscribed))
      await this.writeStatus(box.id, box.name);
  }

  /**
   * A change event of the account (called by the session for every event). Message events of a
   * mailbox other than the selected one all end in the same STATUS, so one of each kind waits per
   * mailbox: a burst of deliveries does not fill the queue.
   */
  onEvent(event: MailboxChangeEvent): void {
    if (this.stopped || this.overflowed || !this.concernsSession(event)) return;
    const key = this.coalesceKey(event);
    if (key === undefined || !this.queuedKeys.has(key)) {
      if (this.queue.length >= this.maxQueue) {
        this.queue = [];
        this.queuedKeys.clear();
        this.overflowed = true;
      } else {
        this.queue.push(event);
        if (key !== undefined) this.queuedKeys.add(key);
      }
    }
    if (!this.session.busy || this.session.idling) void this.flush();
  }

  /**
   * Another account's events reach the session while one of that account's mailboxes is selected
   * or watched (ACL): of those, only the message events of those mailboxes are the session's to
   * hear. The owner's mailbox names, subscriptions and metadata are not (they are named in the
   * owner's namespace, and are not the user's personal mailboxes, RFC 5465 section 6).
   */
  private concernsSession(event: MailboxChangeEvent): boolean {
    if (event.accountId === this.session.user!.id) return true;
    return (
      (event.mailboxId === this.session.selected?.id || this.shared.has(event.mailboxId)) &&
      MESSAGE_EVENT_KINDS.has(event.kind)
    );
  }

  private coalesceKey(event: MailboxChangeEvent): string | undefined {
    if (event.kind !== 'exists' && event.kind !== 'expunge' && event.kind !== 'flags') return undefined;
    if (event.mailboxId === this.session.selected?.id) return undefined;
    return `${event.kind} ${event.mailboxId} ${event.origin === this.session.id}`;
  }

  /** Sends what is queued; resolves once everything queued before the call has been sent. */
  flush(): Promise<void> {
    this.chain = this.chain
      .then(() => this.drain())
      .catch((error: unknown) => this.session.logger.warn({ err: error }, 'NOTIFY delivery failed'));
    return this.chain;
  }

  private async drain(): Promise<void> {
    if (this.stopped || this.session.isClosed) return;
    if (this.overflowed) {
      this.stopped = true;
      this.queue = [];
      await this.session.writeAsync(
        '* OK [NOTIFICATIONOVERFLOW] Too many notifications, NOTIFY is now NONE\r\n',
      );
      if (this.session.notifier === this) this.session.setNotifier(undefined);
      return;
    }
    const events = this.queue.splice(0);
    this.queuedKeys.clear();
    let selectedChanged = false;
    const statuses = new Map<number, string>();
    for (const event of events) {
      const own = event.origin !== undefined && event.origin === this.session.id;
      await this.learn(event, own);
      const view = {
        selectedId: this.session.selected?.id,
        mailboxName: (this.mailboxes.get(event.mailboxId) ?? this.shared.get(event.mailboxId))?.name,
        subscribed: this.subscribed,
        own,
      };
      for (const notification of notificationsFor(this.spec, event, view)) {
        if (notification.kind === 'selected') selectedChanged = true;
        else if (notification.kind === 'status') statuses.set(notification.mailboxId, notification.name);
        else await this.write(notification);
      }
    }
    await this.pushSelected(selectedChanged);
    for (const [id, name] of statuses) await this.writeStatus(id, name);
  }

  /** Keeps the mailbox names and the subscription list current. */
  private async learn(event: MailboxChangeEvent, own: boolean): Promise<void> {
    if (event.kind === 'mailboxes') {
      await this.reload();
      // RENAME moves subscriptions with the mailboxes (also subscribed names without one).
      if (event.oldName !== undefined)
        this.subscribed = new Set(await this.session.backend.listSubscriptions(this.session.user!.id));
    } else if (event.kind === 'subscription' && event.name !== undefined) {
      if (event.subscribed) this.subscribed.add(event.name);
      else this.subscribed.delete(event.name);
      // A subscribed filter may now name another account's mailbox, or no longer.
      if (classifyName(event.name).kind !== 'own') await this.reload();
    } else if (
      event.mailboxId > 0 &&
      !this.mailboxes.has(event.mailboxId) &&
      !this.shared.has(event.mailboxId)
    )
      await this.reload();
    if (own && event.kind === 'exists' && event.mailboxId === this.session.selected?.id)
      for (const uid of event.uids) this.ownMessages.add(`${event.mailboxId}:${uid}`);
  }

  private async reload(): Promise<void> {
    const user = this.session.user!;
    const [list, shared] = await Promise.all([
      this.session.backend.listMailboxes(user.id),
      this.session.backend.listSharedMailboxes(user.id),
    ]);
    this.mailboxes = new Map(list.map((m) => [m.id, { name: m.name, specialUse: m.specialUse }]));
    const watched = new Map<number, { name: string; ownerId: number }>();
    for (const box of shared) {
      const name = sharedName(box.ownerAddress, box.name);
      if (box.ownerId !== user.id && holds(box.rights, 'lr') && this.namedByFilter(name))
        watched.set(box.id, { name, ownerId: box.ownerId });
    }
    this.shared = watched;
    const owners = new Set([...watched.values()].map((box) => box.ownerId));
    if (![...owners].every((id) => this.watchedOwners.has(id)) || owners.size !== this.watchedOwners.size) {
      this.watchedOwners = owners;
      // The session follows the new owners' change events (once this notifier is in force).
      if (this.session.notifier === this) this.session.setNotifier(this);
    }
  }

  private namedByFilter(name: string): boolean {
    return this.spec.groups.some((g) => filterMatches(g.filter, name, this.subscribed));
  }

  /**
   * The selected mailbox: between commands its changes are reported now (EXPUNGE only for
   * SELECTED; SELECTED-DELAYED keeps them for a command that allows them, RFC 5465 6.1.2; IDLE
   * allows them), then MessageNew's FETCH for every message the client was told of and not sent.
   */
  private async pushSelected(changed: boolean): Promise<void> {
    const session = this.session;
    const box = session.selected;
    const group = selectedGroup(this.spec);
    if (!box || !group) return;
    if (changed && (!session.busy || session.idling))
      await session.sync(session.idling || group.filter.kind === 'selected');
    if (session.selected !== box || !group.events.has('MessageNew') || group.fetch.length === 0) return;
    if (this.fetchedBox !== box) {
      this.fetchedBox = box;
      this.fetchedUpTo = box.selectedMaxUid;
    }
    // UIDs ascend: only the tail can be new (no scan of the whole mailbox after every command).
    const fresh: number[] = [];
    for (let i = box.uids.length - 1; i >= 0 && box.uids[i]! > this.fetchedUpTo; i--)
      if (!this.ownMessages.has(`${box.id}:${box.uids[i]}`)) fresh.push(box.uids[i]!);
    fresh.reverse();
    this.fetchedUpTo = Math.max(this.fetchedUpTo, box.maxUid);
    // Own messages are remembered until they are behind the fetched mark (their event may come first).
    for (const key of this.ownMessages) {
      const [id, uid] = key.split(':').map(Number) as [number, number];
      if (id !== box.id || uid <= this.fetchedUpTo) this.ownMessages.delete(key);
    }
    if (fresh.length === 0) return;
    await runFetch(
      session,
      {
        set: fresh.map((uid) => [uid, uid]),
        items: unsolicitedFetchItems(group.fetch, session.enabled.has('CONDSTORE')),
      },
      true,
    );
  }

  private async writeStatus(mailboxId: number, name: string): Promise<void> {
    // Access can be lost after NOTIFY SET: another account's mailbox is reported only while the
    // user holds l and r on it (RFC 5465 5.9).
    if (this.shared.has(mailboxId)) {
      const rights = await this.session.backend.mailboxRights(this.session.user!.id, mailboxId);
      if (!holds(rights, 'lr')) return;
    }
    const items = notifyStatusItems(this.spec, name, this.subscribed, this.session.enabled.has('CONDSTORE'));
    let status: Awaited<ReturnType<CommandContext['backend']['mailboxStatus']>>;
    try {
      status = await this.session.backend.mailboxStatus(mailboxId);
    } catch {
      return; // deleted meanwhile: its MailboxName event (if wanted) says so
    }
    const line = `STATUS ${encodeName(this.session, name)} (${statusItems(items, status, mailboxId).join(' ')})`;
    await this.session.writeAsync(`* ${line}\r\n`);
  }

  private async write(notification: Exclude<Notification, { kind: 'selected' | 'status' }>): Promise<void> {
    const session = this.session;
    if (notification.kind === 'metadata') {
      const entries = notification.entries.map((e) => astring(e)).join(' ');
      await session.writeAsync(`* METADATA ${encodeName(session, notification.mailbox)} ${entries}\r\n`);
      return;
    }
    const { name } = notification;
    const box = [...this.mailboxes.values()].find((m) => m.name === name);
    const attributes: string[] = [];
    if (notification.deleted || !box) attributes.push('\\NonExistent');
    else {
      const children = [...this.mailboxes.values()].some((m) => m.name.startsWith(`${name}${SEPARATOR}`));
      attributes.push(children ? '\\HasChildren' : '\\HasNoChildren');
      if (box.specialUse) attributes.push(box.specialUse);
    }
    if (this.subscribed.has(name)) attributes.push('\\Subscribed');
    const oldName =
      notification.oldName === undefined ? '' : ` ("OLDNAME" (${encodeName(session, notification.oldName)}))`;
    await session.writeAsync(
      `* LIST (${attributes.join(' ')}) "${SEPARATOR}" ${encodeName(session, name)}${oldName}\r\n`,
    );
  }
}
