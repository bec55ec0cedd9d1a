import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { RELAXED_LIMITS_ENV, TEST_SECRET } from './server.js';

const MAIN = resolve(import.meta.dirname, '..', '..', 'apps', 'api', 'dist', 'main.js');

/** One API instance in its own process, as `npm start` runs it (the built server). */
export interface Instance {
  readonly name: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** `ws://127.0.0.1:PORT/ws` */
  readonly wsUrl: string;
  readonly child: ChildProcess;
  /** Everything it printed. */
  output(): string;
  /** Sends `signal` and resolves with the exit code (or the signal's name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

/**
 * Starts `node apps/api/dist/main.js` on 127.0.0.1 and a free port with `env` (DATABASE_URL,
 * REDIS_URL, ...), the shared test JWT secret and no web app, and waits for it to listen.
 * Needs the build (`npm test` builds first).
 */
export async function startInstance(name: string, env: Record<string, string>): Promise<Instance> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
  const dataDir = mkdtempSync(join(tmpdir(), `rt-${name}-`));
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: dataDir,
      JWT_SECRET: TEST_SECRET,
      WEB_DIST_DIR: '',
      LOG_LEVEL: 'log',
      NO_COLOR: '1',
      INSTANCE_ID: name,
      ...RELAXED_LIMITS_ENV,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  void exited.then(() => rmSync(dataDir, { recursive: true, force: true }));
  const port = await new Promise<number>((resolvePort, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start in 30 s:\n${output}`)), 30_000);
    const onData = () => {
      // eslint-disable-next-line no-control-regex -- strips the logger's ANSI colour codes (ESC [ ... m)
      const match = /Listening on http:\/\/[^:]+:(\d+)/.exec(output.replace(/\x1b\[[0-9;]*m/g, ''));
      if (!match) return;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      resolvePort(Number(match[1]));
    };
    child.stdout.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}) before listening:\n${output}`));
    });
  });
  return {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
