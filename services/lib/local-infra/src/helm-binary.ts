import { ensureGoBinary } from './go-binaries.js';

/** Helm 3 release built from Go modules (no replace lines upstream, so `go install` works as is). */
export const HELM_VERSION = 'v3.21.4';

/**
 * A helm binary: HELM_BIN when set, else the cached build of HELM_VERSION (built on first use).
 * A helm on PATH is deliberately not used, so every machine lints and renders with the same version.
 */
export async function ensureHelm(log?: (line: string) => void): Promise<string> {
  const explicit = process.env.HELM_BIN;
  if (explicit) return explicit;
  return ensureGoBinary(
    { name: 'helm', packagePath: 'helm.sh/helm/v3/cmd/helm', version: HELM_VERSION },
    log,
  );
}
