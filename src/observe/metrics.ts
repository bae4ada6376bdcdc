/**
 * Prometheus metrics (prom-client), served at /.gatehouse/metrics. Label sets
 * on the request path are bound once per realm and outcome, so counting a
 * request costs a property lookup and an increment.
 */
import client from 'prom-client';
import type { ErrorCode } from '../errors.js';

export type RequestOutcome = 'forwarded' | 'public' | 'redirected' | 'unauthenticated' | 'forbidden' | 'error' | 'reserved';

export class Metrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'realm' | 'outcome'>;
  private readonly signIns: client.Counter<'realm' | 'result' | 'reason'>;
  private readonly tokenFailures: client.Counter<'realm' | 'reason'>;
  private readonly upstreamLatency: client.Histogram<never>;
  private readonly providerEvents: client.Counter<'realm' | 'kind' | 'result'>;
  private readonly storeErrors: client.Counter<'store'>;
  private readonly signOuts: client.Counter<'realm' | 'kind'>;
  private readonly configReloads: client.Counter<'result'>;
  private readonly bound = new Map<string, client.Counter.Internal>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) client.collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    this.requests = new client.Counter({ name: 'gatehouse_requests_total', help: 'Requests by realm and outcome', labelNames: ['realm', 'outcome'], registers: [this.registry] });
    this.signIns = new client.Counter({ name: 'gatehouse_sign_ins_total', help: 'Sign-ins by realm, result and failure reason', labelNames: ['realm', 'result', 'reason'], registers: [this.registry] });
    this.tokenFailures = new client.Counter({ name: 'gatehouse_token_validation_failures_total', help: 'ID and logout token validation failures by reason', labelNames: ['realm', 'reason'], registers: [this.registry] });
    this.upstreamLatency = new client.Histogram({ name: 'gatehouse_upstream_duration_seconds', help: 'Time to the helpdesk response headers', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
    this.providerEvents = new client.Counter({ name: 'gatehouse_provider_refreshes_total', help: 'Discovery and JWKS fetches by realm, kind and result', labelNames: ['realm', 'kind', 'result'], registers: [this.registry] });
    this.storeErrors = new client.Counter({ name: 'gatehouse_session_store_errors_total', help: 'Session store (Redis) errors', labelNames: ['store'], registers: [this.registry] });
    this.signOuts = new client.Counter({ name: 'gatehouse_sign_outs_total', help: 'Sign-outs by realm and kind', labelNames: ['realm', 'kind'], registers: [this.registry] });
    this.configReloads = new client.Counter({ name: 'gatehouse_config_reloads_total', help: 'Configuration reloads (SIGHUP, --watch) by result', labelNames: ['result'], registers: [this.registry] });
  }

  request(realm: string, outcome: RequestOutcome): void {
    const key = `${realm}\u0000${outcome}`;
    let counter = this.bound.get(key);
    if (!counter) {
      counter = this.requests.labels(realm, outcome);
      this.bound.set(key, counter);
    }
    counter.inc();
  }

  signIn(realm: string, ok: boolean, reason?: ErrorCode): void {
    this.signIns.labels(realm, ok ? 'success' : 'failure', ok ? '' : (reason ?? 'GH_INTERNAL')).inc();
    if (!ok && reason?.startsWith('GH_ID_TOKEN')) this.tokenFailures.labels(realm, reason).inc();
  }

  tokenFailure(realm: string, reason: ErrorCode): void {
    this.tokenFailures.labels(realm, reason).inc();
  }

  upstream(seconds: number): void {
    this.upstreamLatency.observe(seconds);
  }

  provider(realm: string, kind: 'discovery' | 'jwks', ok: boolean): void {
    this.providerEvents.labels(realm, kind, ok ? 'success' : 'failure').inc();
  }

  storeError(store: string): void {
    this.storeErrors.labels(store).inc();
  }

  signOut(realm: string, kind: 'rp' | 'backchannel' | 'admin'): void {
    this.signOuts.labels(realm, kind).inc();
  }

  configReload(ok: boolean): void {
    this.configReloads.labels(ok ? 'accepted' : 'rejected').inc();
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
