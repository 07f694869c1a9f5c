/** What onAuth stores in smtp-server's session.user. */
export interface SessionUser {
  accountId: number;
  address: string;
}
