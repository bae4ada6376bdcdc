#!/usr/bin/env node
/**
 * gatehouse serve | check | demo — parse argv, call modules, map outcomes to
 * exit codes: 0 ok, 1 runtime failure, 2 bad configuration.
 */
import cluster from 'node:cluster';
import { unwatchFile, watchFile } from 'node:fs';
import { loadConfigFile, formatProblems } from './config/load.js';
import { ConfigError } from './errors.js';
import { drainBoundMs, startGateway, type RunningGateway } from './server.js';
import { checkFile, formatCheck } from './check.js';
import { createLogger } from './observe/log.js';
import { UNTRUSTED_TERMINATOR_FIX, untrustedTerminatorHint } from './observe/proxy-hint.js';
import { generateSigningKeyPem } from './identity/assertion.js';

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
  const workers = config.workers;
  if (workers > 1 && cluster.isPrimary) {
    // one signing key for all workers when none is configured: the helpdesk sees one JWKS
    const pem = !config.identity.signing.key_file && config.identity.signing.alg !== 'HS256' ? await generateSigningKeyPem(config.identity.signing.alg) : undefined;
    const env = pem ? { GATEHOUSE_GENERATED_SIGNING_KEY: pem } : {};
    for (let i = 0; i < workers; i++) cluster.fork(env);
    let stopping = false;
    cluster.on('exit', (worker, code) => {
      if (!stopping) {
        process.stderr.write(`worker ${worker.process.pid} exited (${code}); starting another\n`);
        cluster.fork(env);
      }
    });
    const forward = (signal: NodeJS.Signals): void => {
      if (signal !== 'SIGHUP') stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    };
    process.on('SIGHUP', () => forward('SIGHUP'));
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.on(signal, () => {
        forward(signal);
        // exit with the last worker, not on a poll (a worker leaves cluster.workers on exit or on disconnect, whichever is last)
        const exitWhenNoneLeft = (): void => {
          if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
        };
        cluster.on('exit', exitWhenNoneLeft).on('disconnect', exitWhenNoneLeft);
        exitWhenNoneLeft();
      });
    }
    return;
  }
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
 * grace period is never overrun. Every answer after the signal says
 * Connection: close, and the process exits as soon as the last connection has
 * closed (src/http/drain.ts). WebSockets are closed at once, so their clients
 * reconnect to another instance while requests drain.
 */
function drainOnSignals(running: RunningGateway, log: ReturnType<typeof createLogger>): void {
  let closing = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      const { size, websockets } = running.connections;
      const drained = running.close();
      log.info({ signal, in_flight_connections: size, websockets, bound_ms: drainBoundMs(running.gw.runtime) }, 'draining in-flight requests');
      unwatchFile(running.gw.runtime.file);
      // close() cuts connections at the bound; this only guards against a close that hangs past it
      const hardStop = setTimeout(() => process.exit(0), drainBoundMs(running.gw.runtime) + 2000);
      hardStop.unref();
      drained.then(
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
