// Helpers for the operations tests (test/ops): the built CLI run as a child
// process, a temp directory for config files, and a tiny hand-written provider
// whose discovery document and clock a test controls (for doctor findings a
// real provider cannot be made to show).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { exportJWK, generateKeyPair } from 'jose';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** `npm test` builds first; a single `npx tap` run of an ops test rebuilds dist/ when src/ is newer. */
export function ensureBuilt(): void {
  let built = 0;
  try {
    built = statSync(CLI).mtimeMs;
  } catch {
    /* not built */
  }
  if (built >= newestMtime(join(ROOT, 'src'))) return;
  const result = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('npm run build failed');
}

export function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-ops-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeFile(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node dist/cli.js ...args` to completion (bounded). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  ensureBuilt();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv(), ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse ${args.join(' ')} did not finish in time\n${stdout}\n${stderr}`));
    }, options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The environment without tap's loader options, so the child runs plain node. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const key of Object.keys(env)) if (key.startsWith('TAP')) delete env[key];
  return env;
}

/** A spawned `gatehouse serve`, its log lines collected as they come. */
export interface ServeProcess {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  /** resolves with the first log line matching `test` (rejects after timeoutMs) */
  waitForLog(test: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** resolves with the address it listens on (listen.port 0: the port it was given), from its 'gatehouse listening' line */
  listening(timeoutMs?: number): Promise<{ url: string; port: number }>;
  /** SIGKILL if still running (teardown) */
  kill(): void;
}

export function spawnServe(configFile: string, env: NodeJS.ProcessEnv = {}, extraArgs: string[] = []): ServeProcess {
  ensureBuilt();
  const child = spawn(process.execPath, [CLI, 'serve', '--config', configFile, ...extraArgs], {
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ test: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  let buffer = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const text = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { raw: text };
      }
      lines.push(line);
      for (const w of [...waiters])
        if (w.test(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
    }
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => child.on('exit', (code, signal) => res({ code, signal })));
  const waitForLog = (test: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> => {
    const seen = lines.find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const timer = setTimeout(
        () => rej(new Error(`no matching log line in ${timeoutMs} ms; stderr: ${stderr.slice(0, 2000)}; lines: ${JSON.stringify(lines).slice(0, 2000)}`)),
        timeoutMs,
      );
      waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          res(line);
        },
      });
    });
  };
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    waitForLog,
    async listening(timeoutMs) {
      const url = String((await waitForLog((l) => l.msg === 'gatehouse listening', timeoutMs)).url);
      return { url, port: Number(new URL(url).port) };
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

export interface TcpFront {
  /** http://127.0.0.1:port — what public_url names */
  url: string;
  port: number;
  /** where connections go from now on (connections that came earlier wait for this) */
  forwardTo(port: number): void;
  close(): Promise<void>;
}

/**
 * A loopback TCP front on port 0 that passes every connection through to a port set later, as a load
 * balancer in front of a spawned gateway: its address goes into public_url (and the provider's redirect
 * URIs) before the gateway, started with listen.port 0, has said which port it was given.
 */
export async function startTcpFront(): Promise<TcpFront> {
  let target: number | undefined;
  const waiting: Array<(port: number) => void> = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  const server = createTcpServer((client) => {
    track(client);
    const pipe = (port: number): void => {
      const upstream = connect({ host: '127.0.0.1', port });
      track(upstream);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    };
    if (target === undefined) waiting.push(pipe);
    else pipe(target);
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    forwardTo(next) {
      target = next;
      for (const pipe of waiting.splice(0)) pipe(next);
    },
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

export interface FakeProvider {
  issuer: string;
  /** requests seen, by path */
  hits: string[];
  close(): Promise<void>;
}

/**
 * A provider that only answers discovery and JWKS: `dateOffsetMs` moves its Date
 * header, `document` overrides discovery fields (undefined removes one).
 */
export async function startFakeProvider(
  options: { dateOffsetMs?: number; document?: Record<string, unknown>; jwksStatus?: number } = {},
): Promise<FakeProvider> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'fake-1', alg: 'ES256', use: 'sig' };
  const hits: string[] = [];
  let issuer = '';
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '/');
    const date = new Date(Date.now() + (options.dateOffsetMs ?? 0)).toUTCString();
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json', date });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/.well-known/openid-configuration') {
      const doc: Record<string, unknown> = {
        issuer,
        authorization_endpoint: `${issuer}/auth`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        end_session_endpoint: `${issuer}/logout`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        id_token_signing_alg_values_supported: ['ES256'],
        ...options.document,
      };
      for (const [k, v] of Object.entries(doc)) if (v === undefined) delete doc[k];
      return send(200, doc);
    }
    if (req.url === '/jwks') return send(options.jwksStatus ?? 200, { keys: [jwk] });
    send(404, { error: 'not_found' });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    hits,
    close: () =>
      new Promise<void>((res) => {
        server.close(() => res());
        server.closeAllConnections();
      }),
  };
}

/** A valid gateway.yaml for the given issuer (one realm), with `extra` appended at the top level. */
export function minimalYaml(opts: { issuer: string; upstream?: string; publicUrl?: string; secret?: string; realmExtra?: string; extra?: string }): string {
  return `public_url: ${opts.publicUrl ?? 'http://127.0.0.1:8080'}
upstream:
  url: ${opts.upstream ?? 'http://127.0.0.1:9'}
  timeout: 5s
session:
  secret:
    - ${opts.secret ?? 'an-operator-secret-of-at-least-32-characters'}
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/login/authenticate-callback/1
    provider:
      issuer: ${opts.issuer}
      client_id: agent-client
      client_secret: agent-client-secret-0123456789
${opts.realmExtra ?? ''}${opts.extra ?? ''}`;
}
