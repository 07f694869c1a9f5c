import { createSocket, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';

export type DnsRecord =
  | { type: 'A'; name: string; address: string; ttl?: number }
  | { type: 'AAAA'; name: string; address: string; ttl?: number }
  | { type: 'MX'; name: string; exchange: string; preference: number; ttl?: number }
  | { type: 'TXT'; name: string; text: string; ttl?: number }
  | { type: 'CNAME'; name: string; target: string; ttl?: number }
  | { type: 'PTR'; name: string; target: string; ttl?: number };

/**
 * A real DNS server over UDP on loopback for tests: answers from an in-memory zone that a test can
 * change while services run (NXDOMAIN for unknown names, NOERROR/empty for known names of other
 * types). Long TXT strings are split into 255-octet character-strings.
 */
export class DnsTestServer {
  private socket: Socket | undefined;
  private records: DnsRecord[] = [];
  readonly queries: Array<{ name: string; type: string }> = [];
  port = 0;
  host = '127.0.0.1';

  set(records: DnsRecord[]): void {
    this.records = records.map((r) => ({ ...r, name: r.name.toLowerCase().replace(/\.$/, '') }));
  }

  add(...records: DnsRecord[]): void {
    this.set([...this.records, ...records]);
  }

  remove(predicate: (r: DnsRecord) => boolean): void {
    this.records = this.records.filter((r) => !predicate(r));
  }

  /** host:port in the form resolvers take. */
  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Listens on `host` (any of 127/8 on Linux): port 53 on a spare loopback address serves resolv.conf users. */
  async start(port = 0, host = '127.0.0.1'): Promise<void> {
    this.host = host;
    const socket = createSocket('udp4');
    this.socket = socket;
    socket.on('message', (message, rinfo) => {
      let query: dnsPacket.Packet;
      try {
        query = dnsPacket.decode(message);
      } catch {
        return;
      }
      const question = query.questions?.[0];
      if (!question) return;
      const name = question.name.toLowerCase().replace(/\.$/, '');
      this.queries.push({ name, type: question.type });
      const known = this.records.filter((r) => r.name === name);
      const answers = this.answersFor(name, question.type).map((r) => this.toAnswer(r));
      const response = dnsPacket.encode({
        type: 'response',
        id: query.id,
        flags:
          dnsPacket.AUTHORITATIVE_ANSWER |
          (known.length === 0 ? 3 : 0) |
          ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED),
        questions: [question],
        answers,
      });
      socket.send(response, rinfo.port, rinfo.address);
    });
    await new Promise<void>((resolve) => socket.bind(port, host, () => resolve()));
    this.port = socket.address().port;
  }

  /**
   * As a recursive resolver answers: the records of the type, else the name's CNAME followed by
   * the answers for its target (a chain of up to 8 aliases).
   */
  private answersFor(name: string, type: string, depth = 0): DnsRecord[] {
    const known = this.records.filter((r) => r.name === name);
    const direct = known.filter((r) => r.type === type);
    const alias = known.find((r) => r.type === 'CNAME');
    if (direct.length > 0 || type === 'CNAME' || !alias || alias.type !== 'CNAME' || depth >= 8)
      return direct;
    return [alias, ...this.answersFor(alias.target.toLowerCase().replace(/\.$/, ''), type, depth + 1)];
  }

  private toAnswer(r: DnsRecord): dnsPacket.Answer {
    const ttl = r.ttl ?? 60;
    switch (r.type) {
      case 'A':
      case 'AAAA':
        return { type: r.type, name: r.name, ttl, data: r.address };
      case 'MX':
        return { type: 'MX', name: r.name, ttl, data: { exchange: r.exchange, preference: r.preference } };
      case 'TXT': {
        const chunks: Buffer[] = [];
        const bytes = Buffer.from(r.text, 'utf8');
        for (let i = 0; i < bytes.length; i += 255) chunks.push(bytes.subarray(i, i + 255));
        return { type: 'TXT', name: r.name, ttl, data: chunks.length > 0 ? chunks : [Buffer.alloc(0)] };
      }
      case 'CNAME':
        return { type: 'CNAME', name: r.name, ttl, data: r.target };
      case 'PTR':
        return { type: 'PTR', name: r.name, ttl, data: r.target };
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.socket ? this.socket.close(() => resolve()) : resolve()));
  }
}
