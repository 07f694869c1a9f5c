// The part of mailauth 4.x (which ships no types) that the MX uses.
declare module 'mailauth' {
  import type { Readable } from 'node:stream';

  interface AuthStatus {
    result: string;
    comment?: string;
  }

  export interface AuthenticateResult {
    dkim: { results?: Array<{ signingDomain?: string; selector?: string; status: AuthStatus }> };
    spf: { status: AuthStatus; domain?: string } | false;
    dmarc:
      | {
          status: AuthStatus & { header?: { from?: string; d?: string } };
          policy?: string;
          p?: string;
          domain?: string;
          testMode?: boolean;
          /** The DMARC record text, when one was found. */
          rr?: string;
          alignment?: { spf?: { result?: string | false }; dkim?: { result?: string | false } };
        }
      | false;
    arc: { status: AuthStatus } | false;
    headers: string;
  }

  export function authenticate(
    input: Readable | Buffer | string,
    options: {
      ip?: string;
      helo?: string;
      sender?: string;
      mta?: string;
      resolver?: (name: string, rrtype: string) => Promise<unknown>;
      disableBimi?: boolean;
      disableArc?: boolean;
      minBitLength?: number;
    },
  ): Promise<AuthenticateResult>;
}
