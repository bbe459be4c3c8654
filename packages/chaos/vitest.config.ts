import { defineConfig, mergeConfig } from 'vitest/config';
import { sharedConfig } from '../../vitest.shared.js';

export default mergeConfig(sharedConfig, defineConfig({ test: { include: ['src/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 60_000 } }));
