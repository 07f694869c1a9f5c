export {
  ClamdPeer,
  type ClamdPeerOptions,
  EICAR,
  EICAR_SIGNATURE,
  EICAR_SIGNATURES,
  TEST_PATTERN,
  TEST_PATTERN_SIGNATURE,
} from './clamd.js';
export { type TestDatabase, testDatabase } from './database.js';
export {
  PARSEDMARC_VERSION,
  type ParsedmarcReport,
  parsedmarcPython,
  parseWithParsedmarc,
  rfc7489Schema,
  xmllintErrors,
} from './dmarc-validators.js';
export { type DnsRecord, DnsTestServer } from './dns-server.js';
export {
  documentationBlocks,
  documentationFiles,
  type FencedBlock,
  fencedBlocks,
  isShellBlock,
  runnableBlocks,
  type ShellBlockMark,
  shellBlockMark,
} from './doc-blocks.js';
export { eventually } from './eventually.js';
export {
  domainWatchersCaughtUp,
  type HermodPlatform,
  type HermodPorts,
  type ServiceName,
  startHermod,
} from './hermod.js';
export { startTestControlPlane, type TestControlPlane } from './kube-control-plane.js';
export { freePortOffset, type LocalPlatform, processesUsing, startLocalPlatform } from './local-platform.js';
export { startTestNats, type TestNats } from './nats.js';
export { type HeldMessage, releaseHeldOutbound, seedHeldOutbound } from './outbound-seed.js';
export { type OwnInfrastructure, startOwnInfrastructure } from './own-infrastructure.js';
export { hermodCli, inboxMessages } from './platform-clients.js';
export {
  type PostfixPeer,
  type PostfixPeerOptions,
  type SmtpSink,
  type SmtpSinkOptions,
  startPostfixPeer,
  startSmtpSink,
} from './postfix-peer.js';
export { rowsNotLocked, untilWaitingOnLock } from './row-locks.js';
export { type SlowSink, type SlowSinkOptions, startSlowSink } from './slow-sink.js';
export { type RunResult, requireTool, run, sieveConnect } from './tools.js';
export { startValidatingResolver, type TestZone, type ValidatingResolver } from './validating-resolver.js';
export { testWorkdir } from './workdir.js';
