// smtp-server ships no types for its connection class; only what refuse-auth-before-tls.ts touches.
declare module 'smtp-server/lib/smtp-connection.js' {
  export const SMTPConnection: { prototype: object };
}
