// smtp-server ships no types for its connection class or its SASL table; smtp-server-internals.ts
// is the only module that imports them and gives them their (private) shape.
declare module 'smtp-server/lib/smtp-connection.js' {
  export const SMTPConnection: { prototype: object };
}
declare module 'smtp-server/lib/sasl.js' {
  const sasl: object;
  export default sasl;
}
