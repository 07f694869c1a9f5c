export class QuarantineNotFoundError extends Error {
  readonly code = 'QUARANTINE_NOT_FOUND';
  constructor(readonly id: string) {
    super(`no quarantined message ${id}`);
    this.name = 'QuarantineNotFoundError';
  }
}
