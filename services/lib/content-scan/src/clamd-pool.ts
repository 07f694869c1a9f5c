import { type ClamdAddress, ClamdSession } from './clamd-client.js';

/**
 * clamd sessions kept open between messages: a scan takes an idle session (or opens one) and
 * gives it back after a verdict, so a message costs clamd no accept, no new connection thread
 * hand-off and us no connect. At most `maxIdle` sessions wait (the scanner's concurrency limit);
 * one idle longer than `idleMs` is closed here (keep it below clamd's IdleTimeout); a session
 * clamd closes while idle is dropped when its close arrives. Idle sessions do not keep the
 * process alive.
 */
export class ClamdSessionPool {
  private readonly idle: ClamdSession[] = [];
  private closed = false;

  constructor(
    private readonly address: ClamdAddress,
    private readonly maxIdle: number,
    private readonly idleMs: number,
  ) {}

  /** An idle session, most recently used first, or a new one. */
  take(): ClamdSession {
    for (let session = this.idle.pop(); session; session = this.idle.pop()) {
      if (!session.usable) continue;
      session.socket.setTimeout(0);
      session.socket.ref();
      return session;
    }
    return this.open();
  }

  /** Opens a session that is not taken from the idle ones (a retry after a stale one failed). */
  open(): ClamdSession {
    const session = new ClamdSession(this.address);
    // Armed only while idle (give() sets it, take() clears it).
    session.socket.on('timeout', () => session.close());
    session.onEnd = () => {
      const at = this.idle.indexOf(session);
      if (at >= 0) this.idle.splice(at, 1);
    };
    return session;
  }

  /** Gives a session back after its verdict; closed instead when it cannot serve another request. */
  give(session: ClamdSession): void {
    if (this.closed || !session.usable || this.idle.length >= this.maxIdle) {
      session.close();
      return;
    }
    session.socket.unref();
    session.socket.setTimeout(this.idleMs);
    this.idle.push(session);
  }

  /** Closes the idle sessions; later sessions are closed when given back. */
  close(): void {
    this.closed = true;
    for (const session of this.idle.splice(0)) session.close();
  }
}
