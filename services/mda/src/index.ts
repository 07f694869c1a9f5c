// What other packages (tests, benchmarks) may use of the MDA.
export { type DeliveryDeps, deliverBatch } from './deliver.js';
export { type DeliveryRow, type FailedRow, type MailboxAppend, writeDeliveries } from './write-deliveries.js';
