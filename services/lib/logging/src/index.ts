import { type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * The one logger factory: JSON lines on stdout with the service name on every line.
 * Child loggers carry ids (session, message, queue, trace) so a line can be found from any of them.
 */
export function createLogger(service: string, level: string = process.env.LOG_LEVEL ?? 'info'): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    redact: { paths: ['password', '*.password', 'pass', '*.pass', 'authorization'], censor: '***' },
  };
  return pino(options);
}

/** A logger that drops everything, for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
