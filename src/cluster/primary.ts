/**
 * The primary process of `gatehouse serve` with workers > 1. It runs no gateway
 * code: it forks the workers, holds what they share (hub.ts) and relays it,
 * restarts a worker that dies, passes signals on, and answers the metrics
 * listener with every worker's metrics aggregated (prom-client's
 * AggregatorRegistry, loaded on the first scrape). Its imports are node
 * built-ins and this directory; cli.ts loads the config before calling it.
 */
import cluster, { type Worker } from 'node:cluster';
import { generateKeyPairSync } from 'node:crypto';
import { ClusterHub, type WorkerPort } from './hub.js';
import { isEnvelope, isStartFailure } from './messages.js';
import { startMetricsListener, type MetricsListener } from '../observe/metrics-listener.js';

export interface PrimaryOptions {
  workers: number;
  /** identity.signing: without a key file, the primary generates one key for every worker (one JWKS for the helpdesk) */
  signing: { alg: 'ES256' | 'EdDSA' | 'RS256' | 'HS256'; keyFile?: string | undefined };
  /** metrics.listen: a listener of its own, here in the primary */
  metricsListen?: { host: string; port: number } | undefined;
  /** log.level: the primary's own lines below it are not written */
  logLevel?: string;
}

/** a worker that dies sooner than this after its start is restarted after a growing pause */
const QUICK_DEATH_MS = 5000;
const MAX_RESTART_DELAY_MS = 10_000;

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
let minimumLevel = 30;

/** JSON lines like the workers' pino logs (level numbers as pino's), on stdout. */
function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  const number = LEVELS[level]!;
  if (number < minimumLevel) return;
  process.stdout.write(`${JSON.stringify({ level: number, time: Date.now(), pid: process.pid, role: 'primary', ...fields, msg })}\n`);
}

/** PKCS#8 PEM as identity/assertion.ts generateSigningKeyPem makes it, without loading jose here. */
function generateSigningKeyPem(alg: 'ES256' | 'EdDSA' | 'RS256'): string {
  const pair =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'EdDSA'
        ? generateKeyPairSync('ed25519')
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export async function runPrimary(options: PrimaryOptions): Promise<void> {
  minimumLevel = LEVELS[options.logLevel ?? 'info'] ?? 30;
  const env: Record<string, string> = { GATEHOUSE_CLUSTER_WORKER: '1' };
  if (!options.signing.keyFile && options.signing.alg !== 'HS256') env.GATEHOUSE_GENERATED_SIGNING_KEY = generateSigningKeyPem(options.signing.alg);

  const renderMetrics = async (): Promise<{ contentType: string; body: string }> => {
    const lists = await hub.askAll({ kind: 'collect-metrics' });
    const client = (await import('prom-client')).default;
    const registry = client.AggregatorRegistry.aggregate(lists as Parameters<typeof client.AggregatorRegistry.aggregate>[0]);
    return { contentType: registry.contentType, body: await registry.metrics() };
  };
  const hub = new ClusterHub({ renderMetrics: async () => (await renderMetrics()).body });

  const ports = new Map<number, WorkerPort>();
  const portOf = (worker: Worker): WorkerPort => {
    let port = ports.get(worker.id);
    if (!port) {
      port = { id: worker.id, send: (message) => void worker.send(message) };
      ports.set(worker.id, port);
    }
    return port;
  };
  let startFailureSaid = false;
  cluster.on('message', (worker, message: unknown) => {
    if (isStartFailure(message)) {
      // every worker meets the same failure (a port in use): the operator reads it once
      if (!startFailureSaid) process.stderr.write(`${message.reason}\n`);
      startFailureSaid = true;
      return;
    }
    if (isEnvelope(message)) hub.receive(portOf(worker), message);
  });

  let stopping = false;
  let restartDelayMs = 0;
  const startedAt = new Map<number, number>();
  const fork = (): void => {
    const worker = cluster.fork(env);
    worker.on('error', () => {}); // a send to a worker that just died: its exit is handled below
    startedAt.set(worker.id, Date.now());
  };
  // until one worker has listened, a worker's failure is the gateway's failure to start (a port in use,
  // an unreadable key file): the worker said why; forking it again and again would only repeat that
  let anyListened = false;
  cluster.on('listening', () => (anyListened = true));
  cluster.on('exit', (worker, code, signal) => {
    hub.detach(worker.id);
    ports.delete(worker.id);
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    startedAt.delete(worker.id);
    if (stopping) return;
    if (!anyListened && signal === null && code !== 0) {
      stopping = true;
      log('error', 'gatehouse could not start: a worker failed before any listened (its reason is above)', { worker: worker.process.pid, code });
      forward('SIGTERM');
      void metricsListener?.close();
      exitWhenNoWorkers(1);
      return;
    }
    restartDelayMs = lived < QUICK_DEATH_MS ? Math.min(MAX_RESTART_DELAY_MS, Math.max(500, restartDelayMs * 2)) : 0;
    log('warn', `worker ${worker.process.pid} exited (${signal ?? code}); starting another${restartDelayMs ? ` in ${restartDelayMs} ms` : ''}`, {
      worker: worker.process.pid,
      code,
      signal,
    });
    if (restartDelayMs === 0) fork();
    else setTimeout(() => !stopping && fork(), restartDelayMs);
  });

  let metricsListener: MetricsListener | null = null;
  if (options.metricsListen) {
    try {
      metricsListener = await startMetricsListener({
        ...options.metricsListen,
        render: renderMetrics,
        onError: (error) => log('warn', 'metrics scrape failed', { detail: error.message }),
      });
      log('info', 'metrics listening', { url: metricsListener.url });
    } catch (error) {
      log('error', 'gatehouse could not start: the metrics listener cannot listen', { detail: (error as Error).message });
      process.exit(1);
    }
  }

  for (let i = 0; i < options.workers; i++) fork();
  log('info', `cluster primary started ${options.workers} workers`, { workers: options.workers });

  const forward = (signal: NodeJS.Signals): void => {
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGHUP', () => forward('SIGHUP'));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      forward(signal);
      void metricsListener?.close();
      exitWhenNoWorkers(0);
    });
  }
}

/** Exit with `code` once every worker has gone (a worker leaves cluster.workers on exit or on disconnect, whichever is last). */
function exitWhenNoWorkers(code: number): void {
  const done = (): void => {
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(code);
  };
  cluster.on('exit', done).on('disconnect', done);
  done();
}
