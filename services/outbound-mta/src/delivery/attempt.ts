import { DestinationError } from '../dns/resolve-destination.js';
import type { AttemptResult, MessageContext } from '../queue/finish.js';
import type { QueueEntry } from '../queue/lease.js';
import type { PreparedMessage } from './deliver-message.js';
import { type DeliveryFailure, TlsError } from './errors.js';
import type { RoutePlan } from './plan-route.js';

/** Where in an attempt a failure arose. */
export type Stage = 'route' | 'connect' | 'prepare' | 'transaction';

export type Failure = DeliveryFailure | DestinationError;

/** How an attempt ended: what `Dispatcher.conclude` records. */
export type Outcome =
  | { kind: 'results'; results: AttemptResult[]; context: MessageContext }
  | {
      kind: 'failure';
      failure: Failure;
      stage: Stage;
      plan?: RoutePlan | undefined;
      host?: string | undefined;
    }
  /** Nothing to record: the message is gone, or the dispatcher is stopping (the lease decides). */
  | { kind: 'none' };

/** What a failure means for every recipient of the attempt. */
export type FailureDecision =
  | { action: 'record'; kind: 'deferred' | 'failed'; status: string; reply: string }
  /** A fault of ours: hold the recipients visibly, never retry blindly. */
  | { action: 'hold'; reason: string }
  /** Our database or key store failed: leave the recipients to their lease (tried again when it expires). */
  | { action: 'lease' };

/**
 * The one place that decides by failure kind (errors.ts lists them). A failure to reach or talk
 * to the remote defers: 4.4.1 when no session could be opened, 4.4.2 when it broke during the
 * transaction, 4.7.5 when TLS is required by policy and could not be had. DNS answers decide for
 * themselves (a null MX fails for good). A local fault holds; trouble with our own stores
 * leaves the lease to expire.
 */
export function decideFailure(
  failure: Failure,
  stage: Stage,
  plan: RoutePlan | undefined,
  host: string | undefined,
): FailureDecision {
  if (failure instanceof DestinationError)
    return {
      action: 'record',
      kind: failure.permanent ? 'failed' : 'deferred',
      status: failure.status,
      reply: failure.message,
    };
  const at = host ? `${host}: ` : '';
  switch (failure.code) {
    case 'LOCAL':
      return { action: 'hold', reason: `local error (${failure.code}): ${failure.message}` };
    case 'DEPENDENCY':
      return { action: 'lease' };
    case 'TLS': {
      // DANE is per host (the error names it); other policies are the plan's.
      const policy = failure instanceof TlsError ? failure.policy : undefined;
      if (policy || plan?.requireTls)
        return {
          action: 'record',
          kind: 'deferred',
          status: '4.7.5',
          reply: `TLS required (${policy ?? plan?.policy ?? 'tls required'}) but not available: ${at}${failure.message}`,
        };
      break;
    }
    case 'PROTOCOL':
      if (stage === 'transaction')
        return {
          action: 'record',
          kind: 'deferred',
          status: '4.5.0',
          reply: `${at}protocol error: ${failure.message}`,
        };
      break;
  }
  return stage === 'transaction'
    ? {
        action: 'record',
        kind: 'deferred',
        status: '4.4.2',
        reply: `connection to ${host ?? 'the remote'} lost: ${failure.message}`,
      }
    : { action: 'record', kind: 'deferred', status: '4.4.1', reply: `${at}${failure.message}` };
}

/**
 * One leased message at one destination (one SMTP transaction's worth of recipients), from its
 * lease to its end. The dispatcher counts, renews and waits for attempts that have not ended;
 * it is concluded once (`markConcluded`) and `end` runs once, from `Dispatcher.conclude` only.
 */
export class DeliveryAttempt {
  private ended = false;
  private concluded = false;
  private prepared: Promise<PreparedMessage | undefined> | undefined;

  constructor(
    readonly spoolId: string,
    readonly entries: QueueEntry[],
    private readonly onEnd: (attempt: DeliveryAttempt) => void,
  ) {}

  /**
   * Loads and signs the message, once: the next message of a session is prepared while the
   * current one is on the wire, and kept when it goes back to wait for another session.
   */
  prepare(load: () => Promise<PreparedMessage | undefined>): Promise<PreparedMessage | undefined> {
    if (!this.prepared) {
      this.prepared = load();
      // Observed here so that an attempt abandoned at shutdown leaves no unhandled rejection.
      this.prepared.catch(() => undefined);
    }
    return this.prepared;
  }

  /** The prepared message if loading has started (a failure before that does not load it signed). */
  get preparing(): Promise<PreparedMessage | undefined> | undefined {
    return this.prepared;
  }

  /** True the first time only: an attempt's outcome is recorded once, by its first conclusion. */
  markConcluded(): boolean {
    if (this.concluded) return false;
    this.concluded = true;
    return true;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(this);
  }
}
