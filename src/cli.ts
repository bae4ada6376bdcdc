#!/usr/bin/env node
/**
 * gatehouse serve | check | demo | healthcheck — parse argv (cli-args.ts, which
 * also holds each command's --help), call modules, map outcomes to exit codes:
 * 0 ok, 1 runtime failure, 2 bad configuration or usage.
 */
import cluster from 'node:cluster';
import { unwatchFile, watchFile } from 'node:fs';
import { loadConfigFile, formatProblems, type LoadedConfig } from './config/load.js';
import { ConfigError } from './errors.js';
import type { RunningGateway } from './server.js';
import type { Logger } from './observe/log.js';
import { HELP, OVERVIEW, parseArgs, parseDemoPort, version } from './cli-args.js';
import { describeListenError, isListenError } from './observe/port-in-use.js';

// Only the config reader and the argument parser are loaded up front: the cluster primary of `serve`
// loads src/cluster/primary.ts and nothing of the gateway; each command imports its own modules.

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
      return runPrimary({
        workers,
        signing: { alg: config.identity.signing.alg, keyFile: config.identity.signing.key_file },
        metricsListen: config.metrics.listen,
        logLevel: config.log.level,
      });
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
  const { startGateway, drainBoundMs } = await import('./server.js');
  const { createLogger } = await import('./observe/log.js');
  const { UNTRUSTED_TERMINATOR_FIX, untrustedTerminatorHint } = await import('./observe/proxy-hint.js');
  const log = createLogger({ level: config.log.level, format: config.log.format });
  // the workers of a cluster share one config: its start-up warnings and failures are said once, by the first
  const speaksForAll = !cluster.isWorker || cluster.worker?.id === 1;
  const terminatorHint = speaksForAll ? untrustedTerminatorHint(config) : null;
  for (const w of speaksForAll ? loaded.warnings : []) {
    // the loader's terse line about trusted_proxies says what terminatorHint says in full: once is enough
    if (terminatorHint && w.key === 'public_url' && w.message.includes('trusted_proxies')) continue;
    log.warn({ key: w.key, line: w.line }, `${w.file}:${w.line}:${w.column}  ${w.key}: ${w.message}`);
  }
  if (terminatorHint) log.warn({ key: 'trusted_proxies', hint: UNTRUSTED_TERMINATOR_FIX }, terminatorHint);
  let running: RunningGateway;
  try {
    running = await startGateway({
      config,
      file,
      logger: log,
      startupWarnings: speaksForAll,
      ...(process.env.GATEHOUSE_GENERATED_SIGNING_KEY ? { generatedSigningKeyPem: process.env.GATEHOUSE_GENERATED_SIGNING_KEY } : {}),
    });
  } catch (error) {
    if (isListenError(error)) {
      // an operator's mistake, not a crash: no stack trace
      const reason = `gatehouse: ${describeListenError(error, config.listen, `choose another port with listen.port (or listen.host) in ${file}`)}`;
      // a cluster worker hands it to the primary, which says it once for all workers
      if (cluster.isWorker && process.send) process.send({ gh: 1, kind: 'start-failed', reason }, () => process.exit(1));
      else {
        process.stderr.write(`${reason}\n`);
        process.exit(1);
      }
      return;
    }
    log.fatal({ err: error }, 'gatehouse could not start');
    process.exit(1);
  }
  const reload = (reason: string): void => {
    let next: LoadedConfig;
    try {
      next = loadConfigFile(file);
    } catch (error) {
      const problems =
        error instanceof ConfigError
          ? error.problems.filter((p) => p.severity === 'error').map((p) => `${p.file}:${p.line}:${p.column}  ${p.key}: ${p.message}`)
          : [(error as Error).message];
      running.gw.metrics.configReload(false);
      log.error(
        { reason, problems },
        `configuration reload rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}); the previous configuration keeps serving`,
      );
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
  drainOnSignals(running, log, drainBoundMs);
}

/**
 * SIGTERM/SIGINT: stop accepting, answer what is in flight, then exit 0 — within
 * a bound (upstream.timeout, at most 25 s, plus a second), so an orchestrator's
 * grace period is never overrun. Every answer after the signal says
 * Connection: close, and the process exits as soon as the last connection has
 * closed (src/edge/drain.ts). WebSockets are closed at once, so their clients
 * reconnect to another instance while requests drain.
 */
function drainOnSignals(running: RunningGateway, log: Logger, drainBoundMs: (runtime: RunningGateway['gw']['runtime']) => number): void {
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
  const { checkFile, formatCheck } = await import('./check/check.js');
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

async function demo(): Promise<void> {
  const { startDemoStack } = await import('./demo/stack.js');
  const { createLogger } = await import('./observe/log.js');
  const { DEMO_ACCOUNTS } = await import('./demo/provider.js');
  const { DemoLogWords, demoBanner } = await import('./demo/banner.js');
  const port = parseDemoPort(process.env.GATEHOUSE_DEMO_PORT);
  if (typeof port === 'string') {
    process.stderr.write(`gatehouse demo: ${port}\n`);
    process.exit(2);
  }
  const level = process.env.GATEHOUSE_DEMO_LOG_LEVEL ?? 'warn';
  if (!LOG_LEVELS.includes(level)) {
    process.stderr.write(`gatehouse demo: GATEHOUSE_DEMO_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got ${JSON.stringify(level)})\n`);
    process.exit(2);
  }
  const words = new DemoLogWords(process.stderr);
  const logger = createLogger({ level, format: 'json', destination: words });
  let stack: Awaited<ReturnType<typeof startDemoStack>>;
  try {
    stack = await startDemoStack({ gatewayPort: port, logger });
  } catch (error) {
    if (!isListenError(error)) throw error;
    process.stderr.write(
      `gatehouse demo: ${describeListenError(error, { host: '127.0.0.1', port }, `choose another port with GATEHOUSE_DEMO_PORT, e.g. GATEHOUSE_DEMO_PORT=${port === 65535 ? 8081 : port + 1} npm run demo`)}\n`,
    );
    process.exit(1);
  }
  // Ctrl-C is handled before the banner says to press it: a signal sent on reading the banner must find the handler
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
  const agent = DEMO_ACCOUNTS.find((a) => a.groups.includes('helpdesk-agents'))!;
  const user = DEMO_ACCOUNTS.find((a) => a.username === 'bob')!;
  process.stdout.write(
    demoBanner({ publicUrl: stack.publicUrl, issuer: stack.provider.issuer, helpdeskUrl: stack.helpdesk.url, agent, user }, words.release()),
  );
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  switch (args.kind) {
    case 'version':
      process.stdout.write(`gatehouse ${version()}\n`);
      return;
    case 'help':
      process.stdout.write(`${args.command ? HELP[args.command] : OVERVIEW}\n`);
      return;
    case 'usage':
      process.stderr.write(`${args.message}\n\n${args.command ? HELP[args.command] : OVERVIEW}\n`);
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
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`gatehouse: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
