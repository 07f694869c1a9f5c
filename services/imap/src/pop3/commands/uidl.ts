import { scanListing } from './list.js';

/** Unique ids are UIDVALIDITY.UID of INBOX: stable across sessions, never reused. */
export const uidlCommand = scanListing('UIDL', (session, m) => session.uidl(m));
