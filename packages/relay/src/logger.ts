import { pino, type Logger } from 'pino';

/**
 * JSON logs on stdout; tokens and secrets are never passed to the logger, and redacted if they are.
 * Written through `process.stdout`, whose write errors are dropped: when the reader of stdout is gone
 * (a broken pipe) lines are lost instead of retried forever (pino's own destination retries a failed
 * final flush without end), so logging never keeps a relay from shutting down.
 */
const ignore = (): void => {};

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  if (!process.stdout.listeners('error').includes(ignore)) process.stdout.on('error', ignore);
  return pino(
    {
      name: 'partyline-relay',
      level,
      redact: { paths: ['token', '*.token', 'auth', '*.auth', 'secret', '*.secret', 'tokenSecret'], censor: '[redacted]' },
    },
    process.stdout,
  );
}
