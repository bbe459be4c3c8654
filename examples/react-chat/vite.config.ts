import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  build: { target: 'es2022' },
  // `npm run dev`: the page from Vite, the token endpoint from server.js (`npm start`, port 3000).
  server: { proxy: { '/api': 'http://127.0.0.1:3000' } },
});
