import { defaultClientConditions, defaultServerConditions, defineConfig } from 'vite';

/**
 * Shared Vitest settings: workspace packages resolve to their TypeScript sources
 * (the `source` export condition), so no test depends on a `dist/` build.
 */
export const sharedConfig = defineConfig({
  resolve: { conditions: ['source', ...defaultClientConditions] },
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
});
