import type { Logger } from '@hermod/logging';
import type { NatsConnection } from '@hermod/nats';
import { MailboxChangeEvent, mailboxEventSubject } from '@hermod/pipeline';
import type { ChangePublisher } from './store/mail-backend.js';

/** Something that wants the change events of one account (an IMAP or POP3 session). */
export interface ChangeListener {
  onMailboxEvent(event: MailboxChangeEvent): void;
}

/**
 * Fans mailbox change events out to this replica's sessions. Events from this replica reach local
 * sessions at once; all events also go over core NATS so sessions on other replicas hear of them.
 * The connection is made with `noEcho` (main.ts): nats-server does not send a replica its own
 * events back, so it neither spends CPU on them nor needs to recognize them.
 */
export class ChangeHub implements ChangePublisher {
  private readonly listeners = new Map<number, Set<ChangeListener>>();
  /** Changes of this turn of the event loop, delivered and published together at its end. */
  private queued: MailboxChangeEvent[] = [];

  constructor(
    private readonly nats: NatsConnection | undefined,
    private readonly logger: Logger,
  ) {}

  /** Subscribes to every account's events (one subscription per replica). */
  start(): void {
    if (!this.nats) return;
    const subscription = this.nats.subscribe(mailboxEventSubject('*'));
    void (async () => {
      for await (const message of subscription) {
        try {
          this.deliver(MailboxChangeEvent.parse(JSON.parse(message.string())));
        } catch (error) {
          this.logger.warn({ err: error }, 'ignoring malformed mailbox event');
        }
      }
    })();
  }

  add(accountId: number, listener: ChangeListener): void {
    let set = this.listeners.get(accountId);
    if (!set) {
      set = new Set();
      this.listeners.set(accountId, set);
    }
    set.add(listener);
  }

  remove(accountId: number, listener: ChangeListener): void {
    const set = this.listeners.get(accountId);
    set?.delete(listener);
    if (set?.size === 0) this.listeners.delete(accountId);
  }

  /**
   * Deferred to the end of this turn of the event loop, so the session that made the change has
   * recorded it as its own before hearing of it; the changes of one turn (several sessions' answers
   * from PostgreSQL arrive together under load) then share one immediate and one write to NATS.
   */
  publish(event: MailboxChangeEvent): void {
    if (this.queued.push(event) === 1) setImmediate(this.flushQueued);
  }

  private readonly flushQueued = () => {
    const events = this.queued;
    this.queued = [];
    for (const event of events) this.deliver(event);
    if (!this.nats || this.nats.isClosed()) return;
    for (const event of events) {
      try {
        this.nats.publish(mailboxEventSubject(event.accountId), JSON.stringify(event));
      } catch (error) {
        this.logger.warn({ err: error }, 'could not publish mailbox event');
      }
    }
  };

  private deliver(event: MailboxChangeEvent): void {
    for (const listener of this.listeners.get(event.accountId) ?? []) {
      try {
        listener.onMailboxEvent(event);
      } catch (error) {
        this.logger.warn({ err: error }, 'listener failed');
      }
    }
  }
}
