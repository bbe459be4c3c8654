import { startRedis } from '@partyline/test-support';
import { describeScaleOut } from './support/scale-out-suite.js';

describeScaleOut('standalone Redis', async () => {
  const redis = await startRedis();
  return { relayOptions: { redisUrl: redis.url }, stop: () => redis.stop() };
});
