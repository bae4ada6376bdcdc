#!/usr/bin/env node
/**
 * gatehouse serve | check | demo — parse argv, call modules, map outcomes to
 * exit codes: 0 ok, 1 runtime failure, 2 bad configuration.
 */
import cluster from 'node:cluster';
import { unwatchFile, watchFile } from 'node:fs';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { loadConfigFile, formatProblems, type LoadedConfig } from './config/load.js';
import { ConfigError } from './errors.js';
import type { RunningGateway } from './server.js';
import type { Logger } from './observe/log.js';

// Only the config reader is loaded up front: the cluster primary of `serve` loads
// src/cluster/primary.ts and nothing of the gateway; each command imports its own modules.

const USAGE = `usage:
  gatehouse serve [--config gateway.yaml] [--watch]   run the gateway (--watch: reload when the file changes, as on SIGHUP)
  gatehouse check [--config gateway.yaml] [--json]   validate, reach every provider, print what to register
  gatehouse demo                            local provider + demo helpdesk + gateway on loopback
  gatehouse healthcheck [--config gateway.yaml]   exit 0 if this instance's /.gatehouse/healthz answers 200 (container HEALTHCHECK)`;

interface Args {
  command: string | undefined;
  config: string;
  json: boolean;
  /** serve: reload when the file changes, as on SIGHUP */
  watch: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { command: undefined, config: 'gateway.yaml', json: false, watch: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' || arg === '-c') args.config = argv[++i] ?? args.config;
    else if (arg.startsWith('--config=')) args.config = arg.slice(9);
    else if (arg === '--json') args.json = true;
    else if (arg === '--watch') args.watch = true;
    else if (arg === '--help' || arg === '-h') args.command = 'help';
    else if (!args.command) args.command = arg;
    else throw new Error(`unexpected argument ${arg}`);
  }
  return args;
}

function loadOrExit(file: string): ReturnType<typeof loadConfigFile> {
  try {
    return loadConfigFile(file);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${formatProblems(error.problems)}\n`);
      process.exit(2);
    }
    process.stderr.write(`${file}: ${(error as Error).message}\n`);
    process.exit(2);
  }
}

async function serve(file: string, watch: boolean): Promise<void> {
  const loaded = loadOrExit(file);
  const { config } = loaded;
  if (cluster.isPrimary) {
    const { resolveWorkers } = await import('./cluster/cpus.js');
    const workers = resolveWorkers(config.workers);
    if (workers > 1) {
      const { runPrimary } = await import('./cluster/primary.js');
      return runPrimary({ workers, signing: { alg: config.identity.signing.alg, keyFile: config.identity.signing.key_file }, metricsListen: config.metrics.listen, logLevel: config.log.level });
    }
  } else {
    // the primary is gone (killed): nothing shares sign-outs any more, so stop taking requests and drain
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
  return serveGateway(loaded, file, watch);
}

/** One gateway process: the only process with workers: 1, or one worker of a cluster. */
async function serveGateway(loaded: LoadedConfig, file: string, watch: boolean): Promise<void> {
  const { config } = loaded;
  const { startGateway } = await import('./server.js');
  const { createLogger } = await import('./observe/log.js');
  const { UNTRUSTED_TERMINATOR_FIX, untrustedTerminatorHint } = await import('./observe/proxy-hint.js');
  const log = createLogger({ level: config.log.level, format: config.log.format });
  for (const w of loaded.warnings) log.warn({ key: w.key, line: w.line }, `${w.file}:${w.line}:${w.column}  ${w.key}: ${w.message}`);
  const terminatorHint = untrustedTerminatorHint(config);
  if (terminatorHint) log.warn({ key: 'trusted_proxies', hint: UNTRUSTED_TERMINATOR_FIX }, terminatorHint);
  let running: RunningGateway;
  try {
    running = await startGateway({ config, file, logger: log, ...(process.env.GATEHOUSE_GENERATED_SIGNING_KEY ? { generatedSigningKeyPem: process.env.GATEHOUSE_GENERATED_SIGNING_KEY } : {}) });
  } catch (error) {
    log.fatal({ err: error }, 'gatehouse could not start');
    process.exit(1);
  }
  const reload = (reason: string): void => {
    let next;
    try {
      next = loadConfigFile(file);
    } catch (error) {
      const problems = error instanceof ConfigError ? error.problems.filter((p) => p.severity === 'error').map((p) => `${p.file}:${p.line}:${p.column}  ${p.key}: ${p.message}`) : [(error as Error).message];
      running.gw.metrics.configReload(false);
      log.error({ reason, problems }, `configuration reload rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}); the previous configuration keeps serving`);
      return;
    }
    running.reload(next.config).then(
      (runtime) => {
        running.gw.metrics.configReload(true);
        log.level = next.config.log.level;
        log.info({ reason, generation: runtime.generation }, 'configuration reload accepted');
      },
      (error: unknown) => {
        running.gw.metrics.configReload(false);
        log.error({ reason, err: error }, 'configuration reload failed; the previous configuration keeps serving');
      },
    );
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (watch) {
    // polling, not fs.watch: it survives editors that replace the file and Kubernetes' ConfigMap symlink swaps
    watchFile(file, { interval: 1000 }, (current, previous) => {
      if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino) reload('file changed');
    });
  }
  drainOnSignals(running, log);
}

/**
 * SIGTERM/SIGINT: stop accepting, answer what is in flight, then exit 0 — within
 * a bound (upstream.timeout, at most 25 s, plus a second), so an orchestrator's
 * grace period is never overrun. WebSockets have no natural end: they are closed
 * at once, so their clients reconnect to another instance while requests drain.
 */
function drainOnSignals(running: RunningGateway, log: Logger): void {
  const server = running.app.server;
  const sockets = new Set<Socket>();
  const upgraded = new Set<Duplex>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('upgrade', (_req, socket: Duplex) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      const boundMs = Math.min(running.gw.runtime.upstream.timeoutMs, 25_000) + 1000;
      log.info({ signal, in_flight_connections: sockets.size, websockets: upgraded.size, bound_ms: boundMs }, 'draining in-flight requests');
      unwatchFile(running.gw.runtime.file);
      for (const socket of upgraded) socket.destroy();
      // a keep-alive connection whose request ends during the drain goes idle; close it then, not at its timeout
      const idle = setInterval(() => (server as { closeIdleConnections?: () => void }).closeIdleConnections?.(), 100);
      idle.unref();
      const cut = setTimeout(() => {
        log.warn({ connections: sockets.size }, 'drain bound reached; closing the remaining connections');
        for (const socket of sockets) socket.destroy();
      }, boundMs);
      cut.unref();
      const hardStop = setTimeout(() => process.exit(0), boundMs + 2000);
      hardStop.unref();
      running.close().then(
        () => {
          log.info('drained; exiting');
          process.exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'error while draining; exiting');
          process.exit(0);
        },
      );
    });
  }
}

async function check(file: string, json: boolean): Promise<void> {
  const { checkFile, formatCheck } = await import('./check.js');
  const report = await checkFile(file);
  const text = json ? JSON.stringify(report, null, 2) : formatCheck(report);
  // a bad file goes to stderr like serve's, so scripts can tell it from the verdict; --json always prints to stdout
  (report.exit_code === 2 && !json ? process.stderr : process.stdout).write(`${text}\n`, () => process.exit(report.exit_code));
}

/**
 * The container's HEALTHCHECK with node itself (no curl in the image): GET
 * /.gatehouse/healthz on this instance's own listener, exit 0 on 200, 1 otherwise.
 */
async function healthcheck(file: string): Promise<void> {
  const { config } = loadOrExit(file);
  const wildcard = config.listen.host === '0.0.0.0' || config.listen.host === '::' || config.listen.host === '';
  const host = wildcard ? '127.0.0.1' : config.listen.host;
  const url = `${config.listen.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}/.gatehouse/healthz`;
  const { request } = await import(config.listen.tls ? 'node:https' : 'node:http');
  // our own certificate on our own listener: its name need not match the loopback address
  const req = request(url, { timeout: 3000, rejectUnauthorized: false }, (res: import('node:http').IncomingMessage) => {
    res.resume();
    process.stdout.write(`${url}: HTTP ${res.statusCode}\n`);
    process.exit(res.statusCode === 200 ? 0 : 1);
  });
  req.on('timeout', () => req.destroy(new Error('no answer in 3 s')));
  req.on('error', (error: Error) => {
    process.stdout.write(`${url}: ${error.message}\n`);
    process.exit(1);
  });
  req.end();
}

async function demo(): Promise<void> {
  const { startDemoStack } = await import('./demo/stack.js');
  const { createLogger } = await import('./observe/log.js');
  const { DEMO_ACCOUNTS } = await import('./demo/provider.js');
  const port = Number(process.env.GATEHOUSE_DEMO_PORT ?? 8080);
  const logger = createLogger({ level: process.env.GATEHOUSE_DEMO_LOG_LEVEL ?? 'warn', format: 'json' });
  const stack = await startDemoStack({ gatewayPort: port, logger });
  const agent = DEMO_ACCOUNTS.find((a) => a.groups.includes('helpdesk-agents'))!;
  const user = DEMO_ACCOUNTS.find((a) => a.username === 'bob')!;
  process.stdout.write(
    [
      'Gatehouse demo is running (loopback only):',
      `  helpdesk as an agent:  ${stack.publicUrl}/agent      sign in as ${agent.username} / ${agent.password}`,
      `  helpdesk as a user:    ${stack.publicUrl}/           sign in as ${user.username} / ${user.password}`,
      `  OpenID Provider:       ${stack.provider.issuer}`,
      `  demo helpdesk (direct, no identity): ${stack.helpdesk.url}`,
      `  gateway endpoints:     ${stack.publicUrl}/.gatehouse/readyz  ${stack.publicUrl}/.gatehouse/jwks.json`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      process.stdout.write('\nstopping the demo...\n');
      stack.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  switch (args.command) {
    case 'serve':
      return serve(args.config, args.watch);
    case 'check':
      return check(args.config, args.json);
    case 'demo':
      return demo();
    case 'healthcheck':
      return healthcheck(args.config);
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`${USAGE}\n`);
      process.exit(2);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`gatehouse: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
