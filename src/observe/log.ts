/**
 * JSON lines through pino (pretty for people when log.format is pretty).
 * Redaction is the second line of defence: the code never passes tokens,
 * cookies, codes or secrets to the logger, and these paths catch what slips.
 */
import pino, { type Logger } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'req.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-auth-assertion"]',
  'res.headers["set-cookie"]',
  'headers.cookie',
  'headers.authorization',
  '*.client_secret',
  '*.secret',
  '*.token',
  '*.idToken',
  '*.refreshToken',
  '*.accessToken',
  '*.code',
];

export interface LogOptions {
  level: string;
  format: 'json' | 'pretty';
  /** where lines go (tests capture them); default stdout */
  destination?: NodeJS.WritableStream | undefined;
}

export function createLogger(options: LogOptions): Logger {
  const base = {
    level: options.level,
    base: { service: 'gatehouse' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.format === 'pretty' && !options.destination) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:standard' } } });
  }
  return options.destination ? pino(base, options.destination as pino.DestinationStream) : pino(base);
}
