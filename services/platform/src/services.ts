/** The services `npm start` runs, with their local ports (non-privileged versions of the standard ones). */
export interface LocalService {
  name: string;
  opsPort: number;
  env: Record<string, string>;
  /** Shown in the start-up table. */
  listeners: string[];
}

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
    },
    { name: 'mda', opsPort: 9105 + offset, env: {}, listeners: [] },
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
    },
    {
      name: 'mx',
      opsPort: 9102 + offset,
      env: { ...tlsEnv, MX_HOST: '127.0.0.1', MX_SMTP_PORT: port(2525), MX_HOSTNAME: 'localhost' },
      listeners: [`smtp ${port(2525)}`],
    },
    { name: 'outbound-mta', opsPort: 9104 + offset, env: { OUTBOUND_HELO_NAME: 'localhost' }, listeners: [] },
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
      },
      listeners: [
        `IMAP ${port(2143)} (STARTTLS)`,
        `IMAPS ${port(2993)}`,
        `POP3 ${port(2110)} (STLS)`,
        `POP3S ${port(2995)}`,
      ],
    },
  ];
}
