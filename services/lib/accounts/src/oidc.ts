import { env } from '@hermod/config';
import { createRemoteJWKSet, decodeJwt, errors, type JWTVerifyGetKey, jwtVerify } from 'jose';

/**
 * SSO settings, read by msa and imap (POP3, IMAP). With no OIDC_ISSUER, OAUTHBEARER and XOAUTH2
 * are neither advertised nor accepted.
 */
export const oidcEnv = {
  /** The issuer (`iss`) tokens must carry; enables SASL OAUTHBEARER and XOAUTH2. */
  OIDC_ISSUER: env.optionalString(),
  /** The audience (`aud`) tokens must name, e.g. the client id registered for mail. */
  OIDC_AUDIENCE: env.optionalString(),
  /** The JWKS URL; when unset, read from `<issuer>/.well-known/openid-configuration`. */
  OIDC_JWKS_URL: env.optionalString(),
  /** Clock skew allowed when checking `exp` and `nbf`, in seconds. */
  OIDC_CLOCK_SKEW_S: env.int(60, 0, 600),
  /** The claim that names the account (its address or an alias). */
  OIDC_ACCOUNT_CLAIM: env.string('email'),
  /** A JWKS is fetched again for an unknown `kid` at most once per this many milliseconds. */
  OIDC_JWKS_COOLDOWN_MS: env.int(30_000, 0, 3_600_000),
};

export interface OidcSettings {
  OIDC_ISSUER?: string | undefined;
  OIDC_AUDIENCE?: string | undefined;
  OIDC_JWKS_URL?: string | undefined;
  OIDC_CLOCK_SKEW_S: number;
  OIDC_ACCOUNT_CLAIM: string;
  OIDC_JWKS_COOLDOWN_MS: number;
}

export type TokenCheck = { ok: true; name: string } | { ok: false; error: string };

/** Checks bearer tokens (JWT) from one OIDC issuer: signature (RS256/ES256), iss, aud, exp, nbf. */
export interface TokenVerifier {
  readonly issuer: string;
  verify(token: string): Promise<TokenCheck>;
  /** The account name a token claims, unverified: only to key the throttle for a bad token. */
  claimedName(token: string): string | undefined;
}

const ALGORITHMS = ['RS256', 'ES256'];
const FETCH_TIMEOUT_MS = 5_000;

export class OidcTokenVerifier implements TokenVerifier {
  private keys: Promise<JWTVerifyGetKey> | undefined;
  readonly issuer: string;

  constructor(
    private readonly settings: OidcSettings & { OIDC_ISSUER: string; OIDC_AUDIENCE: string },
    private readonly fetchJson: (url: string) => Promise<unknown> = defaultFetchJson,
  ) {
    this.issuer = settings.OIDC_ISSUER;
  }

  /** The JWKS, from OIDC_JWKS_URL or discovery; cached by jose, fetched again for an unknown kid. */
  private jwks(): Promise<JWTVerifyGetKey> {
    this.keys ??= (async () => {
      let url = this.settings.OIDC_JWKS_URL;
      if (!url) {
        const discovery = (await this.fetchJson(
          `${this.settings.OIDC_ISSUER.replace(/\/$/, '')}/.well-known/openid-configuration`,
        )) as { jwks_uri?: unknown; issuer?: unknown };
        if (typeof discovery.jwks_uri !== 'string') throw new Error('discovery document has no jwks_uri');
        url = discovery.jwks_uri;
      }
      return createRemoteJWKSet(new URL(url), {
        timeoutDuration: FETCH_TIMEOUT_MS,
        cooldownDuration: this.settings.OIDC_JWKS_COOLDOWN_MS,
      });
    })();
    // A failed discovery is tried again on the next login rather than remembered.
    this.keys.catch(() => {
      this.keys = undefined;
    });
    return this.keys;
  }

  async verify(token: string): Promise<TokenCheck> {
    try {
      const { payload } = await jwtVerify(token, await this.jwks(), {
        issuer: this.settings.OIDC_ISSUER,
        audience: this.settings.OIDC_AUDIENCE,
        algorithms: ALGORITHMS,
        clockTolerance: this.settings.OIDC_CLOCK_SKEW_S,
        requiredClaims: ['exp'],
      });
      const name = payload[this.settings.OIDC_ACCOUNT_CLAIM];
      if (typeof name !== 'string' || !name) return { ok: false, error: 'no-account-claim' };
      return { ok: true, name };
    } catch (error) {
      if (error instanceof errors.JOSEError) return { ok: false, error: error.code };
      return { ok: false, error: 'jwks-unavailable' };
    }
  }

  claimedName(token: string): string | undefined {
    try {
      const name = decodeJwt(token)[this.settings.OIDC_ACCOUNT_CLAIM];
      return typeof name === 'string' ? name : undefined;
    } catch {
      return undefined;
    }
  }
}

async function defaultFetchJson(url: string): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** The verifier the settings describe, or undefined when SSO is not configured. */
export function oidcVerifier(settings: OidcSettings): TokenVerifier | undefined {
  const { OIDC_ISSUER, OIDC_AUDIENCE } = settings;
  if (!OIDC_ISSUER) return undefined;
  if (!OIDC_AUDIENCE) throw new Error('OIDC_ISSUER is set but OIDC_AUDIENCE is not');
  return new OidcTokenVerifier({ ...settings, OIDC_ISSUER, OIDC_AUDIENCE });
}

/** A bearer token and the user it is for, from an OAUTHBEARER or XOAUTH2 initial response. */
export interface BearerCredentials {
  user: string | undefined;
  token: string;
}

/**
 * Decodes a SASL OAUTHBEARER (RFC 7628: `n,a=user,^Aauth=Bearer token^A^A`) or XOAUTH2
 * (`user=user^Aauth=Bearer token^A^A`) client response, base64-encoded.
 */
export function decodeBearerResponse(
  mechanism: 'OAUTHBEARER' | 'XOAUTH2',
  base64: string,
): BearerCredentials | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) return undefined;
  const text = Buffer.from(base64, 'base64').toString('utf8');
  const parts = text.split('\x01');
  let user: string | undefined;
  let rest: string[];
  if (mechanism === 'OAUTHBEARER') {
    const gs2 = /^([ny]|p=[^,]*),(a=[^,]*)?,$/.exec(parts[0] ?? '');
    if (!gs2 || gs2[1]?.startsWith('p=')) return undefined;
    if (gs2[2]) user = gs2[2].slice(2).replace(/=2C/g, ',').replace(/=3D/g, '=');
    rest = parts.slice(1);
  } else {
    rest = parts;
  }
  let token: string | undefined;
  for (const field of rest) {
    if (mechanism === 'XOAUTH2' && field.startsWith('user=')) user = field.slice(5);
    const auth = /^auth=Bearer +([A-Za-z0-9\-._~+/]+=*)$/i.exec(field);
    if (auth) token = auth[1];
  }
  if (!token) return undefined;
  return { user: user || undefined, token };
}

/** The RFC 7628 error challenge (base64 of its JSON) sent before a failed OAUTHBEARER/XOAUTH2. */
export function bearerErrorChallenge(issuer: string | undefined): string {
  const status: Record<string, string> = {
    status: 'invalid_token',
    schemes: 'bearer',
    scope: 'openid email',
  };
  if (issuer)
    status['openid-configuration'] = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  return Buffer.from(JSON.stringify(status)).toString('base64');
}
