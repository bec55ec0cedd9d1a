import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Five suites, one `npm test`:
// - unit: specs beside the code, collaborators faked;
// - api: the real server on port 0 with real ws / eventsource clients and a real SQLite file;
// - scale: several API processes on the machine's PostgreSQL and Redis, and nginx in front;
// - bench: `npm run bench --smoke`, checking the benchmark still runs and delivers everything;
// - browser: the built web app in headless Chromium (playwright-core + Debian's chromium).
export default defineConfig({
  // Specs and tests run the wire protocol's TypeScript source: no build of packages/protocol needed.
  resolve: { alias: { '@rt/protocol': fileURLToPath(new URL('./packages/protocol/src/index.ts', import.meta.url)) } },
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        // The web app's state classes (*.svelte.ts) use runes: compiled by the same plugin as the build.
        plugins: [svelte({ configFile: false, compilerOptions: { runes: true } })],
        test: { name: 'unit', include: ['packages/*/src/**/*.spec.ts', 'apps/api/src/**/*.spec.ts', 'apps/web/src/**/*.spec.ts', 'apps/bench/src/**/*.spec.ts'], environment: 'node' },
      },
      {
        extends: true,
        test: { name: 'api', include: ['test/api/**/*.test.ts'], environment: 'node', testTimeout: 20_000, hookTimeout: 30_000 },
      },
      {
        extends: true,
        // Several API processes sharing the machine's PostgreSQL and Redis (required under CI=true).
        test: { name: 'scale', include: ['test/scale/**/*.test.ts'], environment: 'node', testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false },
      },
      {
        extends: true,
        // The benchmark in smoke mode: its own processes, pinned to cores, so not beside other suites' servers.
        // One test runs every scenario (about 260 s with the whiteboard's on 2 cores under other load).
        test: { name: 'bench', include: ['test/bench/**/*.test.ts'], environment: 'node', testTimeout: 420_000, fileParallelism: false },
      },
      {
        extends: true,
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
