// A real redis-server for one test file: loopback only, an ephemeral port, no
// persistence (`--save '' --appendonly no`) unless asked for `appendonly` (then
// `--appendonly yes` in a temp data directory of its own), stopped by its own PID. It can be
// stopped and started again on the same port during a test, to play an outage
// (data is lost, as with any Redis without persistence), or paused with
// SIGSTOP/SIGCONT, to play a Redis that hangs without closing connections.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/demo/stack.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** PID of the running server, or null while stopped */
  readonly pid: number | null;
  /** SIGTERM and wait until the process is gone */
  stop(): Promise<void>;
  /** start again on the same port and wait until it answers PING */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  /** stop if running; for teardown */
  close(): Promise<void>;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface RedisOptions {
  /** `--appendonly yes` (every write logged, replayed on start) in a data directory kept across stop/start */
  appendonly?: boolean;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dataDir = options.appendonly ? mkdtempSync(join(tmpdir(), 'gatehouse-redis-')) : null;
  const persistence = dataDir ? ['--dir', dataDir, '--save', '', '--appendonly', 'yes'] : ['--save', '', '--appendonly', 'no'];
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--protected-mode', 'yes', '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const failed = new Promise<never>((_, reject) => proc.once('error', (error) => reject(new Error(`cannot start redis-server (is it installed?): ${error.message}`))));
    await Promise.race([waitFor(() => ping(port), 5000, `redis-server on port ${port} ${stderr}`), failed]);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.pid === undefined) return;
    process.kill(proc.pid, 'SIGCONT'); // a paused server cannot act on SIGTERM
    process.kill(proc.pid, 'SIGTERM');
    await exited;
    child = null;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return child?.pid ?? null;
    },
    stop,
    async start() {
      if (child) return;
      await launch();
    },
    pause() {
      if (child?.pid !== undefined) process.kill(child.pid, 'SIGSTOP');
    },
    resume() {
      if (child?.pid !== undefined) process.kill(child.pid, 'SIGCONT');
    },
    async close() {
      await stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
