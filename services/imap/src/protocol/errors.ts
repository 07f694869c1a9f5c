/** Input the server refuses; `fatal` ones end the connection because the stream can no longer be trusted. */
export class ImapProtocolError extends Error {
  constructor(
    readonly code:
      | 'LINE_TOO_LONG'
      | 'LITERAL_TOO_LARGE'
      | 'NESTING_TOO_DEEP'
      | 'BAD_SYNTAX'
      | 'TOO_MANY_PARTS',
    message: string,
    readonly fatal = false,
    readonly tag?: string,
  ) {
    super(message);
    this.name = 'ImapProtocolError';
  }
}

/** A command's arguments do not match its grammar: tagged BAD. */
export class BadArgumentsError extends Error {
  readonly code = 'BAD_ARGUMENTS';
  constructor(message: string) {
    super(message);
    this.name = 'BadArgumentsError';
  }
}

/** A command that is well formed but cannot be carried out: tagged NO, with an optional response code. */
export class CommandFailedError extends Error {
  readonly code = 'COMMAND_FAILED';
  constructor(
    message: string,
    readonly responseCode?: string,
  ) {
    super(message);
    this.name = 'CommandFailedError';
  }
}
