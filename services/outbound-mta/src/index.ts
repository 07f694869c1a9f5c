export { OUTBOUND_WAKE_SUBJECT } from './wake.js';
