import type { SendingPolicy } from '@hermod/accounts';

/** What onAuth stores in smtp-server's session.user. */
export interface SessionUser {
  accountId: number;
  address: string;
}

/** What MAIL FROM learned about the account for the rest of its transaction. */
export interface TransactionState {
  policy: SendingPolicy;
  /** The recipient limit cut this transaction short (counted once per transaction). */
  limitHit: boolean;
  /** The account's sending was suspended during this transaction: nothing more is accepted. */
  suspended: boolean;
}

// smtp-server makes a new envelope object for every transaction (RSET, a new MAIL FROM).
const transactions = new WeakMap<object, TransactionState>();

export const transactionState = (envelope: object): TransactionState | undefined =>
  transactions.get(envelope);

export const startTransaction = (envelope: object, policy: SendingPolicy): TransactionState => {
  const state = { policy, limitHit: false, suspended: false };
  transactions.set(envelope, state);
  return state;
};
