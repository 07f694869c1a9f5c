// The parts of mailauth 4.x (which ships no types) used by outbound-mta: the DKIM verifier (tests) and the MTA-STS helpers.
declare module 'mailauth/lib/dkim/verify.js' {
  export function dkimVerify(
    input: Buffer | string,
    options: { resolver?: (name: string, rrtype: string) => Promise<unknown>; curTime?: Date },
  ): Promise<{
    results: Array<{
      signingDomain?: string;
      selector?: string;
      signingHeaders?: { keys?: string; headers?: string[] };
      status: { result: string; comment?: string; header?: Record<string, unknown> };
    }>;
  }>;
}

// mailauth's MTA-STS helpers (RFC 8461): the _mta-sts TXT id lookup and the policy file parser.
declare module 'mailauth/lib/mta-sts.js' {
  export function resolvePolicy(
    address: string,
    options?: { resolver?: (name: string, rrtype: string) => Promise<unknown> },
  ): Promise<string | false>;
  /** Throws (code invalid_sts_*) when the policy is invalid. */
  export function parsePolicy(file: Buffer | string): {
    version: string;
    mode: 'enforce' | 'testing' | 'none';
    maxAge: number;
    mx?: string[];
  };
}

// mailauth's ARC sealer (RFC 8617): the ARC set (ARC-Seal, ARC-Message-Signature,
// ARC-Authentication-Results) to prepend; the instance follows the chain already in the message.
declare module 'mailauth/lib/arc/index.js' {
  export function sealMessage(
    input: Buffer,
    seal: {
      signingDomain: string;
      selector: string;
      privateKey: string;
      algorithm?: string;
      /** The ARC-Authentication-Results payload after `i=N; `: authserv-id and results. */
      authResults: string;
      /** The chain validation status of the message as received. */
      cv: 'none' | 'pass' | 'fail';
      signTime?: Date;
    },
  ): Promise<Buffer>;
}
