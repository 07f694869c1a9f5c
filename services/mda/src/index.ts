// What other packages (tests, benchmarks) may use of the MDA.

export { mdaEnv } from './config.js';
export { type DeliveryDeps, deliverBatch } from './deliver.js';
export { mdaSessionSettings } from './session-settings.js';
export { type DeliveryRow, type FailedRow, type MailboxAppend, writeDeliveries } from './write-deliveries.js';
