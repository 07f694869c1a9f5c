import { ensureGoBinary } from './go-binaries.js';

/**
 * external-dns (sigs.k8s.io/external-dns), the consumer of the DNSEndpoint objects the operator
 * writes. v0.15.0 is the newest release whose go.mod Go 1.23+ builds (newer ones need Go 1.27).
 */
export const EXTERNAL_DNS_VERSION = 'v0.15.0';

/** An external-dns binary: EXTERNAL_DNS_BIN when set, else the cached build of EXTERNAL_DNS_VERSION. */
export async function ensureExternalDns(log?: (line: string) => void): Promise<string> {
  const explicit = process.env.EXTERNAL_DNS_BIN;
  if (explicit) return explicit;
  return ensureGoBinary(
    { name: 'external-dns', packagePath: 'sigs.k8s.io/external-dns', version: EXTERNAL_DNS_VERSION },
    log,
  );
}
