import type { Account, AccountStore } from './account-store.js';
import type { LoginScope } from './app-passwords.js';
import type { LoginThrottle } from './login-throttle.js';

export type LoginOutcome = { ok: true; account: Account } | { ok: false; reason: 'failed' | 'locked' };

/**
 * The one login path of submission, IMAP and POP3: resolve the name to its account (every spelling
 * and alias of an account is the same key), ask the throttle about the account and the client
 * before the password is checked, then count a failure against both or clear the account's own
 * count on success. Unknown names go through the same steps and the same delays.
 */
export class LoginGate {
  constructor(
    private readonly accounts: Pick<AccountStore, 'resolveLogin' | 'verifyLogin'>,
    private readonly throttle: LoginThrottle,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
  ) {}

  async login(
    remoteAddress: string,
    username: string,
    password: string,
    scope: LoginScope,
  ): Promise<LoginOutcome> {
    const candidate = await this.accounts.resolveLogin(username);
    const gate = await this.throttle.check(remoteAddress, candidate.key);
    if (!gate.allowed) {
      await this.sleep(gate.delayMs);
      return { ok: false, reason: 'locked' };
    }
    const account = await this.accounts.verifyLogin(candidate, password, scope);
    if (!account) {
      await this.sleep(await this.throttle.failed(remoteAddress, candidate.key));
      return { ok: false, reason: 'failed' };
    }
    await this.throttle.succeeded(candidate.key);
    return { ok: true, account };
  }
}
