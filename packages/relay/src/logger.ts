import { pino, type Logger } from 'pino';

/** JSON logs on stdout; tokens and secrets are never passed to the logger, and redacted if they are. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    name: 'partyline-relay',
    level,
    redact: { paths: ['token', '*.token', 'auth', '*.auth', 'secret', '*.secret', 'tokenSecret'], censor: '[redacted]' },
  });
}
