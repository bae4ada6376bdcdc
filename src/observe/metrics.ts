/**
 * Prometheus metrics (prom-client), served at /.gatehouse/metrics. The two
 * figures every request touches — its outcome and the helpdesk's latency — are
 * plain numbers on the request path and reach prom-client only when scraped:
 * a prom-client increment or observation hashes its labels and converts bucket
 * bounds to strings each time, about half a microsecond per request.
 */
import client from 'prom-client';
import type { ErrorCode } from '../errors.js';

export type RequestOutcome = 'forwarded' | 'public' | 'redirected' | 'unauthenticated' | 'forbidden' | 'error' | 'reserved';

const UPSTREAM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** One metric in the JSON form prom-client's registries exchange (getMetricsAsJSON; AggregatorRegistry.aggregate takes it back). */
interface MetricJson {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: Array<{ labels: Record<string, string | number>; value: number; metricName: string }>;
}

/**
 * A histogram counted in a typed array, outside prom-client's registry: it
 * becomes prom-client's JSON when scraped, which prom-client renders
 * (AggregatorRegistry.aggregate, its public way in for metrics held elsewhere).
 */
class PlainHistogram {
  /** observations per bucket (not cumulative); the last one is +Inf */
  private readonly counts: Float64Array;
  private sum = 0;
  private count = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  json(): MetricJson {
    const values: MetricJson['values'] = [];
    let cumulative = 0;
    for (let i = 0; i <= this.bounds.length; i++) {
      cumulative += this.counts[i]!;
      values.push({ labels: { le: i < this.bounds.length ? this.bounds[i]! : '+Inf' }, value: cumulative, metricName: `${this.name}_bucket` });
    }
    values.push({ labels: {}, value: this.sum, metricName: `${this.name}_sum` }, { labels: {}, value: this.count, metricName: `${this.name}_count` });
    return { name: this.name, help: this.help, type: 'histogram', aggregator: 'sum', values };
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export class Metrics {
  readonly registry = new client.Registry();
  private readonly signIns: client.Counter<'realm' | 'result' | 'reason'>;
  private readonly tokenFailures: client.Counter<'realm' | 'reason'>;
  private readonly upstreamLatency = new PlainHistogram('gatehouse_upstream_duration_seconds', 'Time to the helpdesk response headers', UPSTREAM_BUCKETS);
  private readonly providerEvents: client.Counter<'realm' | 'kind' | 'result'>;
  private readonly storeErrors: client.Counter<'store'>;
  private readonly signOuts: client.Counter<'realm' | 'kind'>;
  private readonly configReloads: client.Counter<'result'>;
  /** false when metrics.listen gives metrics a listener of their own: /.gatehouse/metrics then answers 404 */
  publicEndpoint = true;
  /** in a cluster worker: renders every worker's metrics (the primary aggregates) */
  private aggregate: (() => Promise<string>) | null = null;
  /** requests counted per realm and outcome, handed to gatehouse_requests_total when scraped */
  private readonly requestCounts = new Map<string, Map<RequestOutcome, number>>();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics !== false) client.collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
    const requestCounts = this.requestCounts;
    const counter = <L extends string>(name: string, help: string, labelNames: L[]): client.Counter<L> =>
      new client.Counter({ name, help, labelNames, registers: [this.registry] });
    // registered in this.registry, which calls collect() at each scrape
    new client.Counter({
      name: 'gatehouse_requests_total',
      help: 'Requests by realm and outcome',
      labelNames: ['realm', 'outcome'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [realm, byOutcome] of requestCounts) for (const [outcome, n] of byOutcome) this.labels(realm, outcome).inc(n);
      },
    });
    this.signIns = counter('gatehouse_sign_ins_total', 'Sign-ins by realm, result and failure reason', ['realm', 'result', 'reason']);
    this.tokenFailures = counter('gatehouse_token_validation_failures_total', 'ID and logout token validation failures by reason', ['realm', 'reason']);
    this.providerEvents = counter('gatehouse_provider_refreshes_total', 'Discovery and JWKS fetches by realm, kind and result', ['realm', 'kind', 'result']);
    this.storeErrors = counter('gatehouse_session_store_errors_total', 'Session store (Redis) errors', ['store']);
    this.signOuts = counter('gatehouse_sign_outs_total', 'Sign-outs by realm and kind', ['realm', 'kind']);
    this.configReloads = counter('gatehouse_config_reloads_total', 'Configuration reloads (SIGHUP, --watch) by result', ['result']);
  }

  request(realm: string, outcome: RequestOutcome): void {
    let byOutcome = this.requestCounts.get(realm);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.requestCounts.set(realm, byOutcome);
    }
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
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

  /** One scrape: this process's metrics, or the whole cluster's when aggregateWith was called. */
  async render(): Promise<string> {
    if (this.aggregate) return this.aggregate();
    const [own, upstream] = await Promise.all([this.registry.metrics(), client.AggregatorRegistry.aggregate([[this.upstreamLatency.json()]]).metrics()]);
    // prom-client's own separation between metrics: a blank line
    return `${own}\n${upstream}`;
  }

  /** This process's metrics as prom-client's JSON, for the primary's AggregatorRegistry. */
  async json(): Promise<object[]> {
    return [...(await this.registry.getMetricsAsJSON()), this.upstreamLatency.json()];
  }

  aggregateWith(render: () => Promise<string>): void {
    this.aggregate = render;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
