// SRS lives in @hermod/address (mda's Sieve redirect rewrites senders too); routing's modules import it here.
export { type SrsReverse, srsForward, srsReverse } from '@hermod/address';
