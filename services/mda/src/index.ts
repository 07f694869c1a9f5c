// What other packages (tests, benchmarks) may use of the MDA.
export { type DeliveryDeps, deliverBatch } from './deliver.js';
