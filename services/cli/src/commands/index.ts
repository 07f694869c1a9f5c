import type { CliCommandEntry } from '../command.js';

// One line per command group; keep sorted.
export const commands: CliCommandEntry[] = [
  {
    name: 'acl',
    summary: "who may use an account's mailboxes (IMAP ACL, shared mailboxes)",
    load: async () => (await import('./acl.js')).aclCommand,
  },
  {
    name: 'alias',
    summary: 'domain aliases, catch-all and sub-addressing',
    load: async () => (await import('./alias.js')).aliasCommand,
  },
  {
    name: 'app-password',
    summary: 'add, list and revoke app passwords; restrict the main password',
    load: async () => (await import('./app-password.js')).appPasswordCommand,
  },
  {
    name: 'domain',
    summary: 'add, change, list and remove served domains',
    load: async () => (await import('./domain.js')).domainCommand,
  },
  {
    name: 'quarantine',
    summary: 'held messages (malware, policy, spam): list, show, release, delete',
    load: async () => (await import('./quarantine.js')).quarantineCommand,
  },
  {
    name: 'queue',
    summary: 'the outbound delivery queue: list, show, retry, hold, release, delete, bounce',
    load: async () => (await import('./queue.js')).queueCommand,
  },
  {
    name: 'reports',
    summary: 'DMARC aggregate and TLS-RPT reports received for our domains: list, show',
    load: async () => (await import('./reports.js')).reportsCommand,
  },
  {
    name: 'route',
    summary: 'explain how an address is routed',
    load: async () => (await import('./route.js')).routeCommand,
  },
  {
    name: 'rules',
    summary: "content policy rules: list them, test a message against them, set or clear a domain's",
    load: async () => (await import('./rules.js')).rulesCommand,
  },
  {
    name: 'sieve',
    summary: "users' Sieve filters and domains' global rules",
    load: async () => (await import('./sieve.js')).sieveCommand,
  },
  {
    name: 'user',
    summary: 'add, change, list and remove mail accounts',
    load: async () => (await import('./user.js')).userCommand,
  },
  {
    name: 'vacation',
    summary: 'set or end an out-of-office reply',
    load: async () => (await import('./vacation.js')).vacationCommand,
  },
];
