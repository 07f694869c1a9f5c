// The DKIM verifier of mailauth 4.x (which ships no types), used by outbound-mta's tests.
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
