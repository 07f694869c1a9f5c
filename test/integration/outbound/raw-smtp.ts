// A minimal raw ESMTP server (node:net) for outbound tests whose EHLO keywords and RCPT replies
// the test chooses, recording every command line and transaction it sees.
import { createServer, type Server, type Socket } from 'node:net';
import { addMx, type OutboundTestbed } from './outbound-fixture.js';

export interface Transaction {
  mailFrom: string;
  recipients: string[];
  data: Buffer;
}

export interface RawSmtpServer {
  /** Every command line received, in order, over all connections. */
  commands: string[];
  /** For each entry of `commands`, the number of the socket read it arrived in. */
  commandReads: number[];
  transactions: Transaction[];
  /** Connections accepted so far. */
  connections: number;
  /** The most connections open at the same time. */
  maxOpen: number;
  /** Messages accepted on each connection, by connection. */
  perConnection: number[];
  close(): Promise<void>;
}

/**
 * A minimal ESMTP server: advertises exactly `extensions` after EHLO, accepts every command, and
 * answers the final dot at once, or with `holdDotRepliesUntilOpen` N only once N connections have
 * been open at the same time (so a test sees deliveries overlap without timing them). With
 * `holdEnvelopeReplies` the replies to MAIL and RCPT are withheld until DATA arrives, which only
 * a pipelining client survives.
 */
export async function startRawSmtp(
  host: string,
  port: number,
  options: {
    extensions: string[];
    holdDotRepliesUntilOpen?: number;
    holdEnvelopeReplies?: boolean;
    /** The reply to a RCPT line (default 250); a recipient refused is not part of the transaction. */
    rcptReply?: (line: string) => string;
    /** The reply to a MAIL line (default 250). After any 421 reply the server closes the connection. */
    mailReply?: (line: string) => string;
    /** The greeting of the nth connection (from 1; default 220); one that is not 220 ends it. */
    greeting?: (connection: number) => string;
    /**
     * The reply to the final dot of the nth transaction (from 1; default 250), or 'drop': the
     * connection is closed with no reply (the transaction is recorded all the same).
     */
    dataReply?: (transaction: number) => string;
    /** STARTTLS is answered 220 and followed by bytes that are not TLS (a broken handshake). */
    brokenStartTls?: boolean;
  },
): Promise<RawSmtpServer> {
  let reads = 0;
  const state: Omit<RawSmtpServer, 'close'> = {
    commands: [],
    commandReads: [],
    transactions: [],
    connections: 0,
    maxOpen: 0,
    perConnection: [],
  };
  let open = 0;
  const sockets = new Set<Socket>();
  /** Final-dot replies withheld until holdDotRepliesUntilOpen connections were open at once. */
  let heldDots: Array<() => void> | undefined = options.holdDotRepliesUntilOpen ? [] : undefined;
  const releaseDotsOnceOverlapping = () => {
    if (heldDots && state.maxOpen >= options.holdDotRepliesUntilOpen!) {
      const release = heldDots;
      heldDots = undefined;
      for (const answer of release) answer();
    }
  };
  const server: Server = createServer((socket) => {
    state.connections++;
    open++;
    state.maxOpen = Math.max(state.maxOpen, open);
    releaseDotsOnceOverlapping();
    sockets.add(socket);
    const index = state.perConnection.push(0) - 1;
    socket.on('close', () => {
      open--;
      sockets.delete(socket);
    });
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    let busy = false;
    let inData = false;
    let tx: Transaction = { mailFrom: '', recipients: [], data: Buffer.alloc(0) };
    let held: string[] = [];
    let read = 0;
    const reply = (text: string) => {
      if (!socket.destroyed) socket.write(`${text}\r\n`);
    };
    const envelopeReply = (text: string) => (options.holdEnvelopeReplies ? held.push(text) : reply(text));
    const serve = () => {
      while (!busy) {
        if (inData) {
          const end = buffer.subarray(0, 3).equals(Buffer.from('.\r\n')) ? -2 : buffer.indexOf('\r\n.\r\n');
          if (end === -1) return;
          tx.data = Buffer.from(buffer.subarray(0, end + 2));
          buffer = buffer.subarray(end + 5);
          inData = false;
          state.transactions.push(tx);
          state.perConnection[index]!++;
          busy = true;
          const answer = options.dataReply?.(state.transactions.length) ?? '250 2.0.0 queued';
          const answerDot = () => {
            busy = false;
            if (answer === 'drop') {
              socket.destroy();
              return;
            }
            reply(answer);
            serve();
          };
          if (heldDots) heldDots.push(answerDot);
          else answerDot();
          return;
        }
        const eol = buffer.indexOf('\r\n');
        if (eol < 0) return;
        const line = buffer.subarray(0, eol).toString('utf8');
        buffer = buffer.subarray(eol + 2);
        state.commands.push(line);
        state.commandReads.push(read);
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') {
          const lines = ['raw.test', ...options.extensions];
          socket.write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
        } else if (verb === 'MAIL') {
          tx = { mailFrom: line, recipients: [], data: Buffer.alloc(0) };
          const answer = options.mailReply?.(line) ?? '250 2.1.0 ok';
          if (answer.startsWith('421')) {
            socket.end(`${answer}\r\n`);
            return;
          }
          envelopeReply(answer);
        } else if (verb === 'RCPT') {
          const answer = options.rcptReply?.(line) ?? '250 2.1.5 ok';
          if (answer.startsWith('2')) tx.recipients.push(line);
          envelopeReply(answer);
        } else if (verb === 'DATA') {
          inData = true;
          for (const text of held) reply(text);
          held = [];
          reply('354 go ahead');
        } else if (verb === 'STARTTLS' && options.brokenStartTls) {
          socket.end('220 2.0.0 ready\r\nthis is not a TLS handshake\r\n');
          return;
        } else if (verb === 'QUIT') {
          socket.end('221 2.0.0 bye\r\n');
          return;
        } else reply('250 2.0.0 ok');
      }
    };
    socket.on('data', (chunk: Buffer) => {
      read = ++reads;
      buffer = Buffer.concat([buffer, chunk]);
      serve();
    });
    const greeting = options.greeting?.(state.connections) ?? '220 raw.test ESMTP';
    if (greeting.startsWith('220')) socket.write(`${greeting}\r\n`);
    else socket.end(`${greeting}\r\n`);
  });
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return Object.assign(state, {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Connections the client keeps for reuse end here, so that close() resolves once they are gone.
        for (const socket of sockets) socket.destroy();
      }),
  });
}

/** A raw server answering as the one MX of `domain` (`mx.<domain>`) on its own loopback address. */
export async function startRawMx(
  bed: Pick<OutboundTestbed, 'dns' | 'smtpPort'>,
  domain: string,
  address: string,
  options: Parameters<typeof startRawSmtp>[2],
): Promise<RawSmtpServer> {
  addMx(bed.dns, domain, address);
  return startRawSmtp(address, bed.smtpPort, options);
}
