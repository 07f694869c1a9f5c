/** Why a scan produced no verdict; one stable code per kind (the metric label). */
export type ScanErrorKind = 'unavailable' | 'timeout' | 'busy' | 'size-limit' | 'protocol' | 'scanner';

export class ScanError extends Error {
  constructor(
    readonly kind: ScanErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ScanError';
  }
}
