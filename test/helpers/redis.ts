// A real redis-server for one test file: loopback only, no persistence
// (`--save '' --appendonly no`) unless asked for `appendonly` (then
// `--appendonly yes` in a temp data directory of its own), stopped by its own PID. It can be stopped and
// started again on the same port during a test, to play an outage (data is
// lost, as with any Redis without persistence), or paused with SIGSTOP/SIGCONT,
// to play a Redis that hangs without closing connections.
//
// Its port: redis-server cannot listen on port 0 (0 turns TCP off) and the
// gateway only takes redis:// URLs, so this helper picks the port. It picks one
// outside the kernel's ephemeral range, so no `listen(0)` and no outgoing
// connection in any test can be given it, and claims it with a lock file that
// other test files (run in parallel) respect. The first start retries with
// another port when redis-server itself says the port is in use (something
// outside the tests holds it); a restart binds the port it had — nothing in the
// tests can have taken it in between, and if something else did, start() says so.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimPort } from './ports.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** PID of the running server, or null while stopped */
  readonly pid: number | null;
  /** SIGTERM and wait until the process is gone */
  stop(): Promise<void>;
  /** start again on the same port; resolves once it accepts connections */
  start(): Promise<void>;
  pause(): void;
  resume(): void;
  /** stop if running and give the port back; for teardown */
  close(): Promise<void>;
}

type Launch = { ok: true; child: ChildProcess; exited: Promise<void> } | { ok: false; portInUse: boolean; output: string };

/** Start redis-server on `port`: settles when it logs that it accepts connections, or when it exits. */
function launch(port: number, persistence: string[]): Promise<Launch> {
  return new Promise((resolve) => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...persistence, '--protected-mode', 'yes', '--loglevel', 'notice'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const onOutput = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (/Ready to accept connections/.test(output)) {
        child.stdout.off('data', onOutput);
        child.stdout.resume(); // keep draining what it logs later
        resolve({ ok: true, child, exited });
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (error) => resolve({ ok: false, portInUse: false, output: `cannot start redis-server (is it installed?): ${error.message}` }));
    child.once('exit', () => resolve({ ok: false, portInUse: /Address already in use/.test(output), output }));
  });
}

export interface RedisOptions {
  /** `--appendonly yes` (every write logged, replayed on start) in a data directory kept across stop/start */
  appendonly?: boolean;
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const dataDir = options.appendonly ? mkdtempSync(join(tmpdir(), 'gatehouse-redis-')) : null;
  const persistence = dataDir ? ['--dir', dataDir, '--save', '', '--appendonly', 'yes'] : ['--save', '', '--appendonly', 'no'];
  let claim = claimPort();
  let first = await launch(claim.port, persistence);
  for (let attempt = 1; !first.ok && first.portInUse && attempt < 20; attempt++) {
    claim.release();
    claim = claimPort();
    first = await launch(claim.port, persistence);
  }
  if (!first.ok) {
    claim.release();
    throw new Error(`redis-server did not start: ${first.output}`);
  }
  const { port } = claim;
  let running: { child: ChildProcess; exited: Promise<void> } | null = first;

  const stop = async (): Promise<void> => {
    const proc = running;
    running = null;
    if (!proc || proc.child.exitCode !== null || proc.child.pid === undefined) return;
    process.kill(proc.child.pid, 'SIGCONT'); // a paused server cannot act on SIGTERM
    process.kill(proc.child.pid, 'SIGTERM');
    await proc.exited;
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    get pid() {
      return running?.child.pid ?? null;
    },
    stop,
    async start() {
      if (running) return;
      const again = await launch(port, persistence);
      if (!again.ok) throw new Error(`redis-server did not start again on port ${port}${again.portInUse ? ' (taken while it was stopped, by something outside the tests)' : ''}: ${again.output}`);
      running = again;
    },
    pause() {
      if (running?.child.pid !== undefined) process.kill(running.child.pid, 'SIGSTOP');
    },
    resume() {
      if (running?.child.pid !== undefined) process.kill(running.child.pid, 'SIGCONT');
    },
    async close() {
      await stop();
      claim.release();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
