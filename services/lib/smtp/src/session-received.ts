import type { SMTPServerSession } from 'smtp-server';
import { receivedHeader } from './received-header.js';

/** The Received field for a transaction of an smtp-server session (the single recipient named, never several). */
export function sessionReceivedHeader(
  session: SMTPServerSession,
  by: { host: string; protocol: string; id: string; date: Date },
): string {
  const recipients = session.envelope.rcptTo;
  return receivedHeader({
    helo: session.hostNameAppearsAs || 'unknown',
    clientAddress: session.remoteAddress,
    ...(session.clientHostname && !session.clientHostname.startsWith('[')
      ? { clientHostname: session.clientHostname }
      : {}),
    byHost: by.host,
    protocol: by.protocol,
    id: by.id,
    ...(recipients.length === 1 && recipients[0] ? { recipient: recipients[0].address } : {}),
    date: by.date,
  });
}
