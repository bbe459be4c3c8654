import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The SDK is bundled from its build output (dist), as an app using the published package would.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist/client', emptyOutDir: true, sourcemap: true, target: 'es2022' },
  server: { proxy: { '/api': 'http://127.0.0.1:8080' } },
});
