/**
 * The benchmark's child processes: each server (pinned to one core) with the stats agent
 * preloaded, and the load generator (pinned to the other core), both over an IPC channel.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadCommand, LoadReply, ServerStats, SystemName, Target } from './protocol.js';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..', '..');
const TASKSET = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

/** Cores for the server and the load generator: different ones when there are two. */
export const pinning = {
  available: TASKSET !== undefined && availableParallelism() >= 2,
  serverCore: 0,
  loadCore: 1,
};

function spawnPinned(core: number, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const stdio: ['ignore', 'inherit', 'inherit', 'ipc'] = ['ignore', 'inherit', 'inherit', 'ipc'];
  if (pinning.available) return spawn(TASKSET!, ['-c', String(core), process.execPath, ...args], { stdio, env });
  return spawn(process.execPath, args, { stdio, env });
}

/** Asks a child to stop (`ask`), waits for it to exit, and kills it if it has not within 10 s. */
async function stopChild(child: ChildProcess, ask: () => void): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  ask();
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port'))));
    });
  });
}

const nowMicros = (): number => Number(process.hrtime.bigint() / 1000n);

/** A baseline's port, from the message its `listen` sends once it listens. */
function listening(system: SystemName, child: ChildProcess): Promise<number> {
  return new Promise<number>((resolvePort, reject) => {
    const exited = (code: number | null) => reject(new Error(`${system} exited with ${code} before listening`));
    child.once('exit', exited);
    const onMessage = (m: { listening?: number }) => {
      if (!m.listening) return;
      child.off('exit', exited);
      child.off('message', onMessage);
      resolvePort(m.listening);
    };
    child.on('message', onMessage);
  });
}

const SCRIPTS: Record<Exclude<SystemName, 'app-ws' | 'app-sse'>, string> = {
  'raw-ws': 'servers/raw-ws.js',
  'raw-sse': 'servers/raw-sse.js',
  socketio: 'servers/socketio.js',
  floor: 'servers/floor.js',
};

/**
 * The app's settings for the benchmark: production mode, logging off the hot path, no rate limits
 * (the load generator signs up every user from one IP),
 * no protocol pings or SSE heartbeats during a run (they would add bytes to the byte counts), and
 * per-connection send buffers as unbounded as the baselines' (64 MiB instead of 1 MiB, so a
 * briefly slow load generator is not disconnected as a slow consumer mid-step).
 */
function appEnv(port: number, dataDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    DATABASE_URL: '',
    JWT_SECRET: randomBytes(36).toString('base64url'),
    LOG_LEVEL: 'warn',
    PUBLIC_ORIGIN: `http://127.0.0.1:${port}`,
    CHAT_RATE_BURST: '100000',
    CHAT_RATE_PER_SECOND: '100000',
    WRITE_RATE_BURST: '100000',
    WRITE_RATE_PER_SECOND: '100000',
    CREATE_RATE_BURST: '100000',
    CREATE_RATE_PER_MINUTE: '100000',
    REGISTER_LIMIT_PER_IP: '100000',
    LOGIN_LIMIT_PER_IP: '100000',
    WS_MAX_PER_USER: '1000000',
    SSE_MAX_PER_USER: '1000000',
    SSE_MAX_PER_IP: '1000000',
    // The whiteboard's drawers are each their own user, drawing at the default rate limit's 60
    // segments a second: raised like the others so a late timer's catch-up burst is not refused.
    BOARD_RATE_BURST: '100000',
    BOARD_RATE_PER_SECOND: '100000',
    CHAT_MAX_TEXT_CHARS: '20000',
    BLOG_MAX_UPDATE_CHARS: '20000',
    WS_PING_INTERVAL_MS: '600000',
    SSE_HEARTBEAT_MS: '600000',
    WS_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
    SSE_MAX_BUFFERED_BYTES: String(64 * 1024 * 1024),
  };
}

export class ServerProcess {
  private nextId = 0;
  private readonly waiting = new Map<number, (stats: ServerStats) => void>();
  private current: ChildProcess;

  private constructor(
    readonly system: SystemName,
    child: ChildProcess,
    readonly port: number,
    /** How it was started, to start it again the same way (same port, data and secrets) in `restart`. */
    private readonly launch: { args: string[]; env: NodeJS.ProcessEnv },
    private readonly dataDir?: string,
  ) {
    this.current = child;
    this.listen(child);
  }

  get child(): ChildProcess {
    return this.current;
  }

  private listen(child: ChildProcess): void {
    child.on('message', (message: ServerStats) => {
      if (message?.id === undefined) return;
      const done = this.waiting.get(message.id);
      this.waiting.delete(message.id);
      done?.(message);
    });
  }

  private get isApp(): boolean {
    return this.system === 'app-ws' || this.system === 'app-sse';
  }

  /**
   * `env` is laid over the app's benchmark settings (and over a baseline's environment, where
   * only SOCKETIO_RECOVERY means anything): DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX,
   * INSTANCE_ID, and a JWT_SECRET that instances of one deployment share.
   */
  static async start(system: SystemName, extraNodeArgs: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
    const agent = join(here, 'agent.js');
    const nodeArgs = ['--expose-gc', '--import', agent, ...extraNodeArgs];
    if (system === 'app-ws' || system === 'app-sse') {
      const port = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), 'rt-bench-'));
      const launch = { args: [...nodeArgs, join(repoRoot, 'apps', 'api', 'dist', 'main.js')], env: { ...appEnv(port, dataDir), ...env } };
      const server = new ServerProcess(system, spawnPinned(pinning.serverCore, launch.args, launch.env), port, launch, dataDir);
      try {
        await server.waitForHttp('/api/blogs');
      } catch (err) {
        await server.stop(); // not left running, pinned, after a failed start
        throw err;
      }
      return server;
    }
    const args = [...nodeArgs, join(here, SCRIPTS[system])];
    const child = spawnPinned(pinning.serverCore, args, { ...process.env, ...env, PORT: '0' });
    const port = await listening(system, child);
    return new ServerProcess(system, child, port, { args, env: { ...process.env, ...env, PORT: String(port) } });
  }

  /**
   * A deploy: SIGTERM, wait for the process to exit (the app drains: 1012 to every socket, every
   * stream ended, writes finished), then the same program again on the same port with the same
   * data and secrets. Times are µs on the machine's monotonic clock: when it exited, and when the
   * new process answered (HTTP for the app, its listening message for a baseline).
   */
  async restart(onSpawned?: () => void): Promise<{ exitedMicros: number; listeningMicros: number }> {
    await stopChild(this.current, () => this.current.kill('SIGTERM'));
    const exitedMicros = nowMicros();
    this.current = spawnPinned(pinning.serverCore, this.launch.args, this.launch.env);
    this.listen(this.current);
    onSpawned?.();
    if (this.isApp) await this.waitForHttp('/api/blogs', 20);
    else await listening(this.system, this.current);
    return { exitedMicros, listeningMicros: nowMicros() };
  }

  private async waitForHttp(path: string, everyMs = 100): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.child.exitCode !== null) throw new Error(`${this.system} exited with ${this.child.exitCode}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.port}${path}`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.system} did not start within 30 s`);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }

  /** CPU and memory of the server process (after a full GC when `gc`). */
  stats(gc = false, resetLoop = false): Promise<ServerStats> {
    const id = ++this.nextId;
    return new Promise((resolveStats, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.system}: no stats reply`)), 30_000);
      this.waiting.set(id, (stats) => {
        clearTimeout(timer);
        resolveStats(stats);
      });
      this.child.send({ cmd: 'stats', id, gc, resetLoop });
    });
  }

  async stop(): Promise<void> {
    await stopChild(this.child, () => this.child.kill('SIGTERM'));
    if (this.dataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Creates chat rooms (the app's own API), each by the next of the prepared users. */
  async createRooms(target: Target, names: string[]): Promise<void> {
    for (const [i, name] of names.entries()) {
      const res = await fetch(`http://127.0.0.1:${this.port}/api/rooms`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', cookie: target.cookies![i % target.cookies!.length]! },
        body: JSON.stringify({ name }),
      });
      if (!res.ok) throw new Error(`/api/rooms: ${res.status} ${await res.text()}`);
    }
  }

  /** Sets up the app for a run: users with sessions, a fresh room and a blog. */
  async prepare(users: number): Promise<Target> {
    const base = `http://127.0.0.1:${this.port}`;
    const post = async (path: string, body: unknown, cookie?: string) => {
      const res = await fetch(base + path, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', ...(cookie ? { cookie } : {}) },
        body: JSON.stringify(body),
      });
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res;
    };
    if (!this.isApp) return { system: this.system, port: this.port };
    const cookies: string[] = [];
    for (let i = 0; i < users; i++) {
      const res = await post('/api/auth/register', { username: `bench${i}`, password: 'benchmark-password' });
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith('session='));
      if (!cookie) throw new Error('no session cookie');
      cookies.push(cookie.split(';')[0]!);
    }
    await post('/api/rooms', { name: 'bench' }, cookies[0]);
    const blog = (await (await post('/api/blogs', { title: 'bench' }, cookies[0])).json()) as { id: number };
    return { system: this.system, port: this.port, cookies, room: 'bench', blogId: blog.id, ownerCookie: cookies[0] };
  }
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class LoadProcess {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (r: LoadReply) => void; reject: (e: Error) => void }>();

  private constructor(readonly child: ChildProcess) {
    child.on('message', (reply: LoadReply) => {
      const pending = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (!pending) return;
      if (reply.ok) pending.resolve(reply);
      else pending.reject(new Error(reply.error));
    });
    child.on('exit', (code) => {
      for (const pending of this.waiting.values()) pending.reject(new Error(`load generator exited with ${code}`));
      this.waiting.clear();
    });
  }

  static start(): LoadProcess {
    return new LoadProcess(spawnPinned(pinning.loadCore, ['--max-old-space-size=4096', join(here, 'load.js')], process.env));
  }

  send(command: WithoutId<LoadCommand>): Promise<LoadReply & { ok: true }> {
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (r: LoadReply) => void, reject });
      this.child.send({ ...command, id });
    });
  }

  /** Disconnects the IPC channel (the generator then closes its sockets and exits) and waits for the exit. */
  stop(): Promise<void> {
    return stopChild(this.child, () => this.child.connected && this.child.disconnect());
  }
}
