import type { Account, AccountStore } from './account-store.js';
import type { LoginScope } from './app-passwords.js';
import type { LoginThrottle } from './login-throttle.js';
import { bearerErrorChallenge, type TokenVerifier } from './oidc.js';

export type LoginOutcome = { ok: true; account: Account } | { ok: false; reason: 'failed' | 'locked' };

/**
 * A token login's outcome; a failure carries why (for the log) and the RFC 7628 error challenge
 * (base64 JSON) to send before the final failure reply.
 */
export type TokenLoginOutcome =
  | { ok: true; account: Account }
  | { ok: false; reason: 'locked' }
  | { ok: false; reason: 'failed'; error: string; challenge: string };

/**
 * The one login path of submission, IMAP and POP3: resolve the name to its account (every spelling
 * and alias of an account is the same key), ask the throttle about the account and the client
 * before the password is checked, then count a failure against both or clear the account's own
 * count on success. Unknown names go through the same steps and the same delays.
 */
export class LoginGate {
  constructor(
    private readonly accounts: Pick<AccountStore, 'resolveLogin' | 'verifyLogin' | 'accountFor'>,
    private readonly throttle: LoginThrottle,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
    private readonly tokens?: TokenVerifier,
  ) {}

  /** Whether bearer tokens (OAUTHBEARER, XOAUTH2) are accepted: an OIDC issuer is configured. */
  get acceptsTokens(): boolean {
    return this.tokens !== undefined;
  }

  /**
   * A login with an OIDC bearer token (SASL OAUTHBEARER or XOAUTH2), through the same throttle.
   * The attempt counts against the account the token's claim names when the token is valid, else
   * against the user the client named (or the claim it sent, unverified); a bad token is a failure.
   * A user named beside a valid token must be the same account as its claim. A token is good for
   * every scope (the issuer decides who may use mail); app-password scopes do not apply.
   */
  async loginWithToken(
    remoteAddress: string,
    user: string | undefined,
    token: string,
  ): Promise<TokenLoginOutcome> {
    const check = this.tokens ? await this.tokens.verify(token) : { ok: false as const, error: 'disabled' };
    // The attempt counts against the user the client named, else the account the token claims
    // (unverified when the token is bad, so a bad token still counts against whom it names).
    const named = user ?? (check.ok ? check.name : (this.tokens?.claimedName(token) ?? ''));
    const candidate = await this.accounts.resolveLogin(named);
    const gate = await this.throttle.check(remoteAddress, candidate.key);
    if (!gate.allowed) {
      await this.sleep(gate.delayMs);
      return { ok: false, reason: 'locked' };
    }
    let account: Account | undefined;
    let error = check.ok ? undefined : check.error;
    if (check.ok) {
      const claimed = user === undefined ? candidate : await this.accounts.resolveLogin(check.name);
      if (claimed.key !== candidate.key) error = 'user-mismatch';
      else account = this.accounts.accountFor(candidate) ?? undefined;
      if (!account) error ??= 'no-account';
    }
    if (!account) {
      await this.sleep(await this.throttle.failed(remoteAddress, candidate.key));
      return {
        ok: false,
        reason: 'failed',
        error: error ?? 'failed',
        challenge: bearerErrorChallenge(this.tokens?.issuer),
      };
    }
    // Nothing to clear when the check saw no live failures (saves a write on every ordinary login).
    if (gate.failures > 0) await this.throttle.succeeded(candidate.key);
    return { ok: true, account };
  }

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
    // Nothing to clear when the check saw no live failures (saves a write on every ordinary login).
    if (gate.failures > 0) await this.throttle.succeeded(candidate.key);
    return { ok: true, account };
  }
}
