import { Readable } from 'node:stream';

export type RspamdAction =
  | 'reject'
  | 'soft reject'
  | 'greylist'
  | 'rewrite subject'
  | 'add header'
  | 'no action';

export interface RspamdVerdict {
  action: RspamdAction;
  score: number;
  requiredScore: number;
  symbols: string[];
}

export class RspamdUnavailableError extends Error {
  readonly code = 'RSPAMD_UNAVAILABLE';
  constructor(cause: unknown) {
    super(`rspamd unavailable: ${(cause as Error).message ?? String(cause)}`);
    this.name = 'RspamdUnavailableError';
  }
}

export interface RspamdScanInput {
  ip: string;
  helo: string;
  mailFrom: string;
  recipients: string[];
  hostname: string;
  queueId: string;
  /** The authenticated submitter (msa): Rspamd then applies its outbound checks, not the inbound ones. */
  user?: string;
  message: AsyncIterable<Buffer>;
}

const actions = new Set<string>([
  'reject',
  'soft reject',
  'greylist',
  'rewrite subject',
  'add header',
  'no action',
]);

/** Rspamd's HTTP protocol (POST /checkv2 on the normal worker): the message as the body, the envelope in headers. */
export class RspamdClient {
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async scan(input: RspamdScanInput): Promise<RspamdVerdict> {
    const headers: Record<string, string> = {
      IP: input.ip.replace(/^::ffff:/, ''),
      Helo: input.helo,
      From: input.mailFrom,
      Hostname: input.hostname,
      'Queue-Id': input.queueId,
      Pass: 'all',
      ...(input.user ? { User: input.user } : {}),
    };
    const init = {
      method: 'POST',
      headers: [...Object.entries(headers), ...input.recipients.map((r): [string, string] => ['Rcpt', r])],
      body: Readable.toWeb(Readable.from(input.message)),
      duplex: 'half',
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    let body: unknown;
    try {
      const response = await fetch(new URL('/checkv2', this.baseUrl), init as RequestInit);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      body = await response.json();
    } catch (error) {
      throw new RspamdUnavailableError(error);
    }
    const result = body as {
      action?: string;
      score?: number;
      required_score?: number;
      symbols?: Record<string, unknown>;
    };
    if (!result.action || !actions.has(result.action))
      throw new RspamdUnavailableError(new Error('answer without an action'));
    return {
      action: result.action as RspamdAction,
      score: Number(result.score ?? 0),
      requiredScore: Number(result.required_score ?? 0),
      symbols: Object.keys(result.symbols ?? {}),
    };
  }
}
