/** Named session states (RFC 9051 3). */
export const State = {
  NotAuthenticated: 'not-authenticated',
  Authenticated: 'authenticated',
  Selected: 'selected',
  Logout: 'logout',
} as const;
export type State = (typeof State)[keyof typeof State];

export const anyState: readonly State[] = [State.NotAuthenticated, State.Authenticated, State.Selected];
export const authenticated: readonly State[] = [State.Authenticated, State.Selected];
export const selected: readonly State[] = [State.Selected];
export const notAuthenticated: readonly State[] = [State.NotAuthenticated];
