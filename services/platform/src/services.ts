/** The services `npm start` runs, with their local ports (non-privileged versions of the standard ones). */
export interface LocalService {
  name: string;
  opsPort: number;
  env: Record<string, string>;
  /** Shown in the start-up table. */
  listeners: string[];
}

export function localServices(tls: { certFile: string; keyFile: string }): LocalService[] {
  const tlsEnv = { TLS_CERT_FILE: tls.certFile, TLS_KEY_FILE: tls.keyFile };
  return [
    {
      name: 'routing',
      opsPort: 9103,
      env: { ROUTING_GRPC_PORT: '7001', ROUTING_GRPC_HOST: '127.0.0.1' },
      listeners: ['gRPC 7001'],
    },
    { name: 'mda', opsPort: 9105, env: {}, listeners: [] },
    {
      name: 'msa',
      opsPort: 9101,
      env: {
        ...tlsEnv,
        MSA_HOST: '127.0.0.1',
        MSA_SUBMISSION_PORT: '2587',
        MSA_SUBMISSIONS_PORT: '2465',
        MSA_HOSTNAME: 'localhost',
      },
      listeners: ['submission 2587 (STARTTLS)', 'submissions 2465 (TLS)'],
    },
    {
      name: 'mx',
      opsPort: 9102,
      env: { ...tlsEnv, MX_HOST: '127.0.0.1', MX_SMTP_PORT: '2525', MX_HOSTNAME: 'localhost' },
      listeners: ['smtp 2525'],
    },
    { name: 'outbound-mta', opsPort: 9104, env: { OUTBOUND_HELO_NAME: 'localhost' }, listeners: [] },
    {
      name: 'imap',
      opsPort: 9106,
      env: {
        ...tlsEnv,
        IMAP_HOST: '127.0.0.1',
        IMAP_PORT: '2143',
        IMAPS_PORT: '2993',
        POP3_PORT: '2110',
        POP3S_PORT: '2995',
      },
      listeners: ['IMAP 2143 (STARTTLS)', 'IMAPS 2993', 'POP3 2110 (STLS)', 'POP3S 2995'],
    },
  ];
}
