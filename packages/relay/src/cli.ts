#!/usr/bin/env node
import { ConfigError, parseCli } from './config.js';
import { createLogger } from './logger.js';

/** How long past the drain deadline a relay may take to exit before it is made to. */
const HARD_EXIT_GRACE_MS = 3000;
import { createRelay } from './relay.js';

/** CLI entry: read config, create the relay, drain gracefully on SIGINT/SIGTERM. */
async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCli(process.argv.slice(2), process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`partyline-relay: ${error.message}\n`);
    process.exit(2);
  }
  if (parsed.help) {
    process.stdout.write(`${parsed.text}\n`);
    return;
  }
  const { config } = parsed;
  const logger = createLogger(config.logLevel);
  const relay = createRelay({ ...config.relay, logger });
  await relay.listen(config.port, config.host);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // Whatever hangs (a store that never answers, a stuck socket), the process is gone soon after the deadline.
    setTimeout(() => process.exit(1), config.drainTimeoutMs + HARD_EXIT_GRACE_MS).unref();
    relay.drain({ deadlineMs: config.drainTimeoutMs, spreadMs: Math.min(3000, config.drainTimeoutMs / 2) }).then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`partyline-relay: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
