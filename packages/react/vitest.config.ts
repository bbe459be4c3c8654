import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

export default mergeConfig(
  sharedConfig,
  defineConfig({
    test: {
      include: ['test/**/*.test.{ts,tsx}'],
      environment: './test/support/jsdom-node-environment.ts',
      env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
      testTimeout: 60_000,
      hookTimeout: 60_000,
    },
  }),
);
