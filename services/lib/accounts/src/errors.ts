/** managed: the account belongs to a Kubernetes resource (the message names it). */
export type AccountErrorCode = 'exists' | 'not-found' | 'bad-address' | 'weak-password' | 'managed';

export class AccountError extends Error {
  constructor(
    readonly code: AccountErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}
