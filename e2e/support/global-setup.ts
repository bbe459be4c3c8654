import { randomBytes } from 'node:crypto';
import { startRedis } from '@partyline/test-support';
import { assertBuilt, startAppProcess, startRelayProcess, type ServerProcess } from './processes.js';
import { STACK_ENV, type StackInfo } from './stack.js';

/**
 * Starts what every spec shares: a real redis-server (AOF), two relay processes over it, and the
 * party planner's server. Everything on 127.0.0.1 and free ports; the returned function stops it all.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  assertBuilt();
  const tokenSecret = randomBytes(32).toString('hex');
  const redis = await startRedis();
  const servers: ServerProcess[] = [];
  const teardown = async () => {
    await Promise.all(servers.map((server) => server.stop()));
    await redis.stop();
  };
  try {
    servers.push(await startRelayProcess('relay-a', redis.url, tokenSecret));
    servers.push(await startRelayProcess('relay-b', redis.url, tokenSecret));
    const relays = servers.slice();
    const app = await startAppProcess(relays.map((relay) => relay.url), tokenSecret);
    servers.push(app);
    const info: StackInfo = {
      appUrl: app.url,
      redisUrl: redis.url,
      tokenSecret,
      relays: relays.map(({ name, url, port, pid }) => ({ name, url, port, pid })),
    };
    process.env[STACK_ENV] = JSON.stringify(info);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
