import {
  AccountStore,
  LoginGate,
  LoginThrottle,
  loginThrottlePolicy,
  oidcVerifier,
  PostgresLoginFailureStore,
} from '@hermod/accounts';
import { loadConfig } from '@hermod/config';
import {
  type CertificateFiles,
  connectDatabase,
  connectNatsServer,
  createServiceBase,
  openCertificateFiles,
  runMain,
  TrustedProxies,
} from '@hermod/service-runtime';
import { SIEVE_EXTENSIONS } from '@hermod/sieve';
import { SieveScripts } from '@hermod/sieve-store';
import { Counter, Gauge } from 'prom-client';
import { loginRefusalRecorder } from './auth/login-refusals.js';
import { ChangeHub } from './change-hub.js';
import { createCommandRegistry } from './commands/registry.js';
import { imapEnv } from './config.js';
import { createManageSieveRegistry } from './managesieve/commands/registry.js';
import { type ManageSieveDependencies, ManageSieveSession } from './managesieve/session.js';
import { createPop3Registry } from './pop3/commands/registry.js';
import { type Pop3Dependencies, Pop3Session } from './pop3/pop3-session.js';
import { ConnectionLimiter, ProtocolListener } from './server.js';
import { ImapSession, type SessionDependencies } from './session/session.js';
import { MailBackend } from './store/mail-backend.js';

runMain('imap', async () => {
  const config = loadConfig('imap', imapEnv);
  const base = createServiceBase('imap', config);
  const { logger, registry, shutdown } = base;
  const pool = await connectDatabase(base, config);
  // Core NATS only: change events are notifications, the database stays the source of truth. No
  // echo: the hub delivers this replica's own events in-process (ChangeHub).
  const nc = await connectNatsServer(base, config.NATS_URL, {
    servesWithout: config.READY_WITHOUT_NATS,
    noEcho: true,
  });

  // Read again when the files change (a renewed certificate), without a restart: every handshake
  // (implicit TLS and STARTTLS/STLS of the three protocols) takes the current context.
  const certificates = await openCertificateFiles(base, config);
  if (!certificates)
    logger.warn('TLS_CERT_FILE/TLS_KEY_FILE not set: no STARTTLS, no implicit TLS listeners, and no logins');

  const hub = new ChangeHub(nc, logger);
  hub.start();
  const accounts = new AccountStore(pool);
  const backend = new MailBackend(pool, hub, {
    maxDepth: config.IMAP_MIME_MAX_DEPTH,
    maxParts: config.IMAP_MIME_MAX_PARTS,
  });
  const limiter = new ConnectionLimiter(
    config.IMAP_MAX_CONNECTIONS_PER_IP,
    config.IMAP_MAX_CONNECTIONS_PER_USER,
  );
  // IMAP and POP3 share one LoginGate, and its counters (PostgreSQL) with submission and every replica.
  const loginGuard = new LoginGate(
    accounts,
    new LoginThrottle(
      new PostgresLoginFailureStore(pool, (error) =>
        logger.warn({ err: error }, 'login_failures prune failed'),
      ),
      loginThrottlePolicy(config),
    ),
    undefined,
    oidcVerifier(config),
  );
  // One counter for the three protocols, the shape of msa's and mx's hermod_<service>_rejections_total.
  const refusals = new Counter({
    name: 'hermod_imap_rejections_total',
    help: 'Refused logins (and commands the unreachable mail store refused) by protocol, reason and response code',
    labelNames: ['protocol', 'reason', 'code'],
    registers: [registry],
  });
  const deps: SessionDependencies = {
    backend,
    commands: createCommandRegistry(),
    limits: {
      maxLineLength: config.IMAP_MAX_LINE_LENGTH,
      maxLiteralSize: config.IMAP_MAX_LITERAL_SIZE,
      appendLimit: config.IMAP_APPEND_LIMIT,
      metadataMaxSize: config.IMAP_METADATA_MAX_SIZE,
      metadataMaxEntries: config.IMAP_METADATA_MAX_ENTRIES,
      notifyMaxQueue: config.IMAP_NOTIFY_MAX_QUEUE,
      maxNonSyncLiteral: config.IMAP_APPEND_LIMIT,
      nestingBeforeLogin: config.IMAP_NESTING_BEFORE_LOGIN,
      nestingAfterLogin: config.IMAP_NESTING_AFTER_LOGIN,
      idleTimeoutMs: config.IMAP_IDLE_TIMEOUT_MS,
      idleCommandTimeoutMs: config.IMAP_IDLE_COMMAND_TIMEOUT_MS,
      maxAuthFailures: config.IMAP_MAX_AUTH_FAILURES,
      maxQueuedCommands: 64,
    },
    logger,
    get serverTls() {
      return certificates?.serverTls;
    },
    loginGuard,
    refused: loginRefusalRecorder(refusals, 'imap'),
    userGuard: limiter,
    allowPlaintextAuth: config.IMAP_ALLOW_PLAINTEXT_AUTH,
    literalMinus: config.IMAP_LITERAL_MINUS,
    hostname: config.IMAP_HOSTNAME,
    changes: hub,
  };

  const listeners: Array<{ name: string; listener: ProtocolListener }> = [];
  const trustedProxies = new TrustedProxies(config.IMAP_PROXY_TRUSTED_CIDRS);
  const imap = (port: number, tls: CertificateFiles | undefined, proxied = false) =>
    new ProtocolListener({
      host: config.IMAP_HOST,
      port,
      ...(tls ? { tls } : {}),
      ...(proxied ? { proxy: { trusted: trustedProxies } } : {}),
      limiter,
      logger,
      refusal: '* BYE Too many connections from your address\r\n',
      createSession: (socket, secure, remoteAddress, release) =>
        new ImapSession(socket, deps, { secure, remoteAddress, onClose: release }),
    });
  const pop3Deps: Pop3Dependencies = {
    backend,
    commands: createPop3Registry(),
    logger,
    get serverTls() {
      return certificates?.serverTls;
    },
    loginGuard,
    refused: loginRefusalRecorder(refusals, 'pop3'),
    userGuard: limiter,
    allowPlaintextAuth: config.IMAP_ALLOW_PLAINTEXT_AUTH,
    idleTimeoutMs: config.POP3_IDLE_TIMEOUT_MS,
    maxAuthFailures: config.IMAP_MAX_AUTH_FAILURES,
    maxLineLength: 8_192,
  };
  const pop3 = (port: number, tls: CertificateFiles | undefined) =>
    new ProtocolListener({
      host: config.IMAP_HOST,
      port,
      ...(tls ? { tls } : {}),
      limiter,
      logger,
      refusal: '-ERR [SYS/TEMP] Too many connections from your address\r\n',
      createSession: (socket, secure, remoteAddress, release) =>
        new Pop3Session(socket, pop3Deps, { secure, remoteAddress, onClose: release }),
    });
  const sieveDeps: ManageSieveDependencies = {
    backend,
    scripts: new SieveScripts(pool, {
      maxScriptBytes: config.SIEVE_MAX_SCRIPT_BYTES,
      maxScripts: config.SIEVE_MAX_SCRIPTS,
      maxNesting: config.SIEVE_MAX_NESTING,
    }),
    commands: createManageSieveRegistry(),
    logger,
    get serverTls() {
      return certificates?.serverTls;
    },
    loginGuard,
    refused: loginRefusalRecorder(refusals, 'managesieve'),
    userGuard: limiter,
    allowPlaintextAuth: config.IMAP_ALLOW_PLAINTEXT_AUTH,
    idleTimeoutMs: 10 * 60_000,
    maxAuthFailures: config.IMAP_MAX_AUTH_FAILURES,
    maxLineLength: 8_192,
    extensions: SIEVE_EXTENSIONS,
    maxRedirects: config.SIEVE_MAX_REDIRECTS,
    implementation: 'Hermod',
  };
  if (config.IMAP_LISTENERS.includes('imap'))
    listeners.push({ name: 'imap', listener: imap(config.IMAP_PORT, undefined) });
  if (config.IMAP_LISTENERS.includes('imaps') && certificates)
    listeners.push({ name: 'imaps', listener: imap(config.IMAPS_PORT, certificates) });
  if (config.IMAP_PROXY_PORT)
    listeners.push({ name: 'imap-proxy', listener: imap(config.IMAP_PROXY_PORT, undefined, true) });
  if (config.IMAPS_PROXY_PORT && certificates)
    listeners.push({ name: 'imaps-proxy', listener: imap(config.IMAPS_PROXY_PORT, certificates, true) });

  if (config.IMAP_LISTENERS.includes('pop3'))
    listeners.push({ name: 'pop3', listener: pop3(config.POP3_PORT, undefined) });
  if (config.IMAP_LISTENERS.includes('pop3s') && certificates)
    listeners.push({ name: 'pop3s', listener: pop3(config.POP3S_PORT, certificates) });
  if (config.IMAP_LISTENERS.includes('managesieve'))
    listeners.push({
      name: 'managesieve',
      listener: new ProtocolListener({
        host: config.IMAP_HOST,
        port: config.MANAGESIEVE_PORT,
        limiter,
        logger,
        refusal: 'BYE "Too many connections from your address"\r\n',
        createSession: (socket, secure, remoteAddress, release) =>
          new ManageSieveSession(socket, sieveDeps, { secure, remoteAddress, onClose: release }),
      }),
    });

  const sessions = new Gauge({
    name: 'hermod_imap_sessions',
    help: 'Open sessions by listener',
    labelNames: ['listener'],
    registers: [registry],
    collect() {
      for (const { name, listener } of listeners) this.set({ listener: name }, listener.sessions.size);
    },
  });
  void sessions;

  const ports: Record<string, number> = {};
  for (const { name, listener } of listeners) {
    ports[name] = await listener.listen();
    shutdown.register(`${name}-listener`, () => listener.close());
  }
  base.readiness.push({ name: 'listeners', check: () => listeners.every((l) => l.listener.port > 0) });
  logger.info({ ports }, 'imap listening');
  await base.startOps();
});
