export {
  type ClamdAddress,
  type ClamdReply,
  ClamdSession,
  ClamdStream,
  parseClamdAddress,
  parseClamdReply,
  pingClamd,
} from './clamd-client.js';
export { ClamdSessionPool } from './clamd-pool.js';
export { malwareScanEnv } from './env.js';
export { ScanError, type ScanErrorKind } from './errors.js';
export { type MalwarePolicy, malwareDisposition, malwareScanHook } from './malware-hook.js';
export {
  type MalwareScan,
  MalwareScanner,
  type MalwareScannerOptions,
  type MalwareVerdict,
  malwareScannerFromConfig,
  virusScannedHeader,
} from './malware-scanner.js';
export {
  type RspamdAction,
  RspamdClient,
  type RspamdScanInput,
  RspamdUnavailableError,
  type RspamdVerdict,
} from './rspamd.js';
