import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The API, the WebSocket and the SSE streams live on one origin in production
// (the API serves dist/). In development Vite proxies them so the browser still
// sees a single origin: the session cookie flows and the API's Origin check
// passes because the Host header is left untouched (no changeOrigin).
const API = '127.0.0.1:3000';

export default defineConfig({
  plugins: [svelte()],
  // The wire protocol from its TypeScript source (packages/protocol/src): Vite compiles it with the
  // app, so `vite dev` sees an edit there at once, with no build of the package first.
  resolve: { alias: { '@rt/protocol': fileURLToPath(new URL('../../packages/protocol/src/index.ts', import.meta.url)) } },
  build: { outDir: 'dist' },
  server: {
    proxy: {
      '/api': { target: `http://${API}` },
      '/ws': { target: `ws://${API}`, ws: true },
    },
  },
});
