import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../apps/api/src/config/app-config.js';
import { fingerprint, stamp, upToDate } from '../../scripts/build-stamp.mjs';
import { TEST_SECRET } from '../support/server.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm start builds only when the sources changed', () => {
  it('is up to date after a build, and not after any source, config or lock file changes, or when an output is gone', () => {
    const root = mkdtempSync(join(tmpdir(), 'rt-stamp-'));
    dirs.push(root);
    const put = (path: string, text: string) => {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    put('package.json', '{}');
    put('apps/web/src/App.svelte', '<p>hi</p>');
    put('apps/api/src/main.ts', 'console.log(1)');
    put('packages/protocol/src/index.ts', 'export {}');
    expect(upToDate(root)).toBe(false); // never built
    put('packages/protocol/dist/index.js', '');
    put('apps/web/dist/index.html', '<html>');
    put('apps/api/dist/main.js', '');
    expect(upToDate(root)).toBe(false); // built, but not stamped
    stamp(root, fingerprint(root));
    expect(upToDate(root)).toBe(true);

    put('apps/web/src/App.svelte', '<p>hello</p>');
    expect(upToDate(root)).toBe(false);
    stamp(root, fingerprint(root));
    put('apps/api/src/new-file.ts', '');
    expect(upToDate(root)).toBe(false); // a new file counts
    stamp(root, fingerprint(root));
    put('package-lock.json', '{"v":2}');
    expect(upToDate(root)).toBe(false);
    stamp(root, fingerprint(root));
    put('apps/web/vite.config.ts', 'export default {}');
    expect(upToDate(root)).toBe(false);
    stamp(root, fingerprint(root));
    put('packages/protocol/src/index.ts', 'export const X = 1;'); // the wire protocol is built into both
    expect(upToDate(root)).toBe(false);
    stamp(root, fingerprint(root));
    expect(upToDate(root)).toBe(true);
    rmSync(join(root, 'packages/protocol/dist/index.js'));
    expect(upToDate(root)).toBe(false);
    put('packages/protocol/dist/index.js', '');
    expect(upToDate(root)).toBe(true);
    rmSync(join(root, 'apps/web/dist/index.html'));
    expect(upToDate(root)).toBe(false);
  });

  it('starts the built server without building when nothing changed', async () => {
    if (!upToDate(repoRoot)) throw new Error('the build is missing or older than the sources: run `npm run build` first (npm test does)');
    const dataDir = mkdtempSync(join(tmpdir(), 'rt-start-'));
    dirs.push(dataDir);
    const child = spawn(process.execPath, [join(repoRoot, 'scripts', 'start.mjs')], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, JWT_SECRET: TEST_SECRET, NO_COLOR: '1', LOG_LEVEL: 'log', WEB_DIST_DIR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const started = performance.now();
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`did not listen in 15 s:\n${output}`)), 20_000);
        child.stdout.on('data', () => {
          // eslint-disable-next-line no-control-regex -- strips the logger's ANSI colour codes (ESC [ ... m)
          const match = /Listening on http:\/\/[^:]+:(\d+)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ""));
          if (match) {
            clearTimeout(timer);
            resolve(Number(match[1]));
          }
        });
        child.once('exit', (code) => reject(new Error(`exited (${code}):\n${output}`)));
      });
      if (process.env.PRINT_START) console.log(`listening after ${Math.round(performance.now() - started)} ms`);
      expect(output).toMatch(/Build is up to date with the sources: starting\./);
      expect(output).not.toMatch(/building the web app/);
      expect((await fetch(`http://127.0.0.1:${port}/api/health/live`)).status).toBeLessThan(500);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
  });
});
