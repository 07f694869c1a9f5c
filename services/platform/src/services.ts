/** The services `npm start` runs, with their local ports (non-privileged versions of the standard ones). */
export interface LocalService {
  name: string;
  opsPort: number;
  env: Record<string, string>;
  /** Shown in the start-up table. */
  listeners: string[];
  /** Every port it listens on (ops included), checked free before anything starts. */
  ports: number[];
}

/**
 * Base ports of the local platform's infrastructure; a copy adds HERMOD_PORT_OFFSET (whole
 * thousands) to each. No two base ports (here and in localServices) share their last three digits,
 * so no port of one copy is ever a port of another (NATS monitoring is 8322, not 8222 = 4222 + 4000).
 */
export const infraPorts = { nats: 4222, natsMonitor: 8322, postgres: 54329 } as const;

export function localServices(tls: { certFile: string; keyFile: string }, offset = 0): LocalService[] {
  const port = (n: number) => String(n + offset);
  const tlsEnv = { TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile };
  return [
    {
      name: 'routing',
      opsPort: 9103 + offset,
      env: {
        ROUTING_GRPC_PORT: port(7001),
        ROUTING_GRPC_HOST: '127.0.0.1',
        ROUTING_MTA_STS_PORT: port(8080),
        ROUTING_MTA_STS_HOST: '127.0.0.1',
      },
      listeners: [`gRPC ${port(7001)}`, `MTA-STS policies http ${port(8080)}`],
      ports: [7001 + offset, 8080 + offset, 9103 + offset],
    },
    { name: 'mda', opsPort: 9105 + offset, env: {}, listeners: [], ports: [9105 + offset] },
    {
      name: 'msa',
      opsPort: 9101 + offset,
      env: {
        ...tlsEnv,
        MSA_HOST: '127.0.0.1',
        MSA_SUBMISSION_PORT: port(2587),
        MSA_SUBMISSIONS_PORT: port(2465),
        MSA_HOSTNAME: 'localhost',
      },
      listeners: [`submission ${port(2587)} (STARTTLS)`, `submissions ${port(2465)} (TLS)`],
      ports: [2587 + offset, 2465 + offset, 9101 + offset],
    },
    {
      name: 'mx',
      opsPort: 9102 + offset,
      env: { ...tlsEnv, MX_HOST: '127.0.0.1', MX_SMTP_PORT: port(2525), MX_HOSTNAME: 'localhost' },
      listeners: [`smtp ${port(2525)}`],
      ports: [2525 + offset, 9102 + offset],
    },
    {
      name: 'outbound-mta',
      opsPort: 9104 + offset,
      env: { OUTBOUND_HELO_NAME: 'localhost' },
      listeners: [],
      ports: [9104 + offset],
    },
    {
      name: 'imap',
      opsPort: 9106 + offset,
      env: {
        ...tlsEnv,
        IMAP_HOST: '127.0.0.1',
        IMAP_PORT: port(2143),
        IMAPS_PORT: port(2993),
        POP3_PORT: port(2110),
        POP3S_PORT: port(2995),
        MANAGESIEVE_PORT: port(4190),
      },
      listeners: [
        `IMAP ${port(2143)} (STARTTLS)`,
        `IMAPS ${port(2993)}`,
        `POP3 ${port(2110)} (STLS)`,
        `POP3S ${port(2995)}`,
        `ManageSieve ${port(4190)} (STARTTLS)`,
      ],
      ports: [2143 + offset, 2993 + offset, 2110 + offset, 2995 + offset, 4190 + offset, 9106 + offset],
    },
  ];
}
