/**
 * The OpenTelemetry SDK behind observe/tracing.ts, loaded only when
 * observe.tracing is configured. Nothing is registered globally (no global
 * tracer provider, propagator or context manager): each gateway holds its own
 * provider, and a request's children find their parent through this module's
 * AsyncLocalStorage, which the server span runs the request in.
 *
 * Trace context (W3C traceparent/tracestate): continued from a trusted proxy
 * (trusted_proxies), as X-Forwarded-* is; from anyone else a new trace is
 * started, with the client's context kept only as a link. The helpdesk is sent
 * the context of the forward's own span, never the client's.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { hostname } from 'node:os';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  defaultTextMapGetter,
  defaultTextMapSetter,
  isSpanContextValid,
  trace,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { ExportResultCode, W3CTraceContextPropagator, type ExportResult } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { isGatehouseError } from '../errors.js';
import { clientView } from '../edge/client-address.js';
import { normalizePath } from '../routing/realm.js';
import { taggedRequestId } from '../edge/request-id.js';
import type { Runtime } from '../runtime.js';
import type { StepName, Tracing, TracingDeps, TracingHooks, TracingSettings } from './tracing.js';

const ATTR_REALM = 'gatehouse.realm';
const ATTR_ERROR_CODE = 'gatehouse.error_code';
const ATTR_REQUEST_ID = 'gatehouse.request_id';
const ATTR_OUTCOME = 'gatehouse.outcome';

/** Probes and scrapers come every few seconds and say nothing about a person's request: not traced. */
const UNTRACED_PATHS = new Set(['/.gatehouse/healthz', '/.gatehouse/readyz', '/.gatehouse/metrics']);
/** RFC 9110 and RFC 5789 methods; anything else is _OTHER (semantic conventions: bounded cardinality) */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** attribute values (a path, a user agent) past this are cut by the SDK */
const MAX_ATTRIBUTE_LENGTH = 1024;
/** shutdown waits this long for the last export: the process exits 2 s after the drain bound (cli.ts) */
const SHUTDOWN_EXPORT_MS = 1500;
/** a collector that is down is said once a minute, not once per batch */
const EXPORT_WARNING_INTERVAL_MS = 60_000;

const propagator = new W3CTraceContextPropagator();

/** A traced request: its server span, and the forward's client span once there is one. */
interface RequestTrace {
  readonly span: Span;
  readonly context: Context;
  readonly method: string;
  upstream: Span | null;
  errorCode: string | undefined;
}

/** What runs inside a request: whose tracer, and the span a child hangs from. */
interface Scope {
  readonly tracer: Tracer;
  readonly context: Context;
}

const scopes = new AsyncLocalStorage<Scope>();
const requests = new WeakMap<object, RequestTrace>();

function failed(span: Span, error: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR });
  if (isGatehouseError(error)) span.setAttributes({ [ATTR_ERROR_TYPE]: error.code, [ATTR_ERROR_CODE]: error.code });
  // the class name only: a message may quote what it failed on
  else span.setAttribute(ATTR_ERROR_TYPE, (error as Error | undefined)?.name ?? 'Error');
}

/** scheme://host:port/path of a URL: its query and fragment never go into a span */
function withoutQuery(url: URL): string {
  return url.origin + url.pathname;
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

export const hooks: TracingHooks = {
  step<T>(name: StepName, fn: () => Promise<T>, outcome?: (result: T) => string | undefined): Promise<T> {
    const scope = scopes.getStore();
    if (scope === undefined) return fn();
    const span = scope.tracer.startSpan(name, { kind: SpanKind.INTERNAL }, scope.context);
    return ended(
      span,
      () => scopes.run({ tracer: scope.tracer, context: trace.setSpan(scope.context, span) }, fn),
      (result) => {
        const said = outcome?.(result);
        if (said !== undefined) span.setAttribute(ATTR_OUTCOME, said);
      },
    );
  },

  providerCall<T extends { status: number }>(name: StepName, method: string, url: string, fn: () => Promise<T>): Promise<T> {
    const scope = scopes.getStore();
    if (scope === undefined) return fn();
    const target = new URL(url);
    const span = scope.tracer.startSpan(
      name,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          [ATTR_URL_FULL]: withoutQuery(target),
          [ATTR_SERVER_ADDRESS]: target.hostname,
          [ATTR_SERVER_PORT]: portOf(target),
        },
      },
      scope.context,
    );
    return ended(span, fn, (response) => {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
      if (response.status >= 400) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute(ATTR_ERROR_TYPE, String(response.status));
      }
    });
  },

  noteErrorCode(req: object, code: string): void {
    const traced = requests.get(req);
    if (traced !== undefined) traced.errorCode = code;
  },
};

/** Run fn; the span ends when its promise settles, marked as failed if it rejects. */
function ended<T>(span: Span, fn: () => Promise<T>, onResult: (result: T) => void): Promise<T> {
  let promise: Promise<T>;
  try {
    promise = fn();
  } catch (error) {
    failed(span, error);
    span.end();
    throw error;
  }
  return promise.then(
    (result) => {
      onResult(result);
      span.end();
      return result;
    },
    (error: unknown) => {
      failed(span, error);
      span.end();
      throw error;
    },
  );
}

/** The OTLP exporter, saying (at most once a minute) when the collector does not take the spans. */
class WarningExporter implements SpanExporter {
  private warnedAt = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly inner: SpanExporter,
    private readonly deps: TracingDeps,
    private readonly endpoint: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      const now = Date.now();
      if (result.code !== ExportResultCode.SUCCESS && now - this.warnedAt >= EXPORT_WARNING_INTERVAL_MS) {
        this.warnedAt = now;
        this.deps.log.warn({ endpoint: this.endpoint, spans: spans.length, detail: result.error?.message }, 'trace export failed; these spans are dropped');
      }
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export function createTracing(settings: TracingSettings, deps: TracingDeps): Tracing {
  const endpoint = new URL(settings.endpoint);
  const exporter = new WarningExporter(new OTLPTraceExporter({ url: settings.endpoint }), deps, withoutQuery(endpoint));
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        [ATTR_SERVICE_NAME]: settings.serviceName,
        [ATTR_SERVICE_VERSION]: deps.version,
        // semantic conventions (incubating): which instance and which worker process
        'service.instance.id': `${hostname()}:${process.pid}`,
        'host.name': hostname(),
        'process.pid': process.pid,
      }),
    ),
    // a trace a trusted proxy started keeps its sampled flag; traces started here are sampled at the ratio
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
    spanLimits: { attributeValueLengthLimit: MAX_ATTRIBUTE_LENGTH },
    spanProcessors: [
      new BatchSpanProcessor(exporter, deps.export?.scheduledDelayMs !== undefined ? { scheduledDelayMillis: deps.export.scheduledDelayMs } : {}),
    ],
  });
  const tracer = provider.getTracer('gatehouse', deps.version);

  /** The parent of a request's span: a trusted proxy's context, or none (with the client's as a link). */
  function parentOf(req: IncomingMessage, trusted: boolean): { parent: Context; links?: Link[] } {
    if (req.headers.traceparent === undefined) return { parent: ROOT_CONTEXT };
    const inbound = propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const remote = trace.getSpanContext(inbound);
    if (remote === undefined || !isSpanContextValid(remote)) return { parent: ROOT_CONTEXT };
    if (trusted) return { parent: inbound };
    // not a parent (it would let any client pick the trace and force sampling), but a way back to the browser's trace
    return { parent: ROOT_CONTEXT, links: [{ context: { traceId: remote.traceId, spanId: remote.spanId, traceFlags: TraceFlags.NONE, isRemote: true } }] };
  }

  function startRequest(req: IncomingMessage, res: ServerResponse, rawPath: string, runtime: Runtime): RequestTrace {
    const client = clientView(req, runtime.trustedProxies);
    const { parent, links } = parentOf(req, client.trusted);
    const original = req.method ?? 'GET';
    const method = KNOWN_METHODS.has(original) ? original : '_OTHER';
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: method,
      [ATTR_URL_PATH]: rawPath,
      [ATTR_URL_SCHEME]: client.proto,
      [ATTR_SERVER_ADDRESS]: runtime.publicUrl.hostname,
      [ATTR_CLIENT_ADDRESS]: client.ip,
      [ATTR_NETWORK_PEER_ADDRESS]: client.peer,
      [ATTR_NETWORK_PROTOCOL_VERSION]: req.httpVersion,
    };
    if (method === '_OTHER') attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = original;
    const agent = req.headers['user-agent'];
    if (agent !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = agent;
    const span = tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.SERVER, attributes, ...(links ? { links } : {}) }, parent);
    const traced: RequestTrace = { span, context: trace.setSpan(parent, span), method, upstream: null, errorCode: undefined };
    requests.set(req, traced);
    res.once('close', () => endRequest(req, res, traced, rawPath));
    return traced;
  }

  function endRequest(req: IncomingMessage, res: ServerResponse, traced: RequestTrace, rawPath: string): void {
    const { span, errorCode } = traced;
    if (traced.upstream !== null) endUpstream(traced.upstream, res, errorCode);
    const status = res.headersSent ? res.statusCode : undefined;
    if (status !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    const runtime = deps.runtime();
    const path = normalizePath(rawPath);
    const reserved = path === null ? undefined : runtime.reserved.get(path);
    if (reserved !== undefined) {
      // a callback or logout path: a route of the gateway's own, few and fixed
      span.setAttribute(ATTR_HTTP_ROUTE, path!);
      span.updateName(`${traced.method} ${path}`);
    }
    const realm = reserved?.realm.name ?? (path === null || runtime.publicPaths?.test(path) ? undefined : runtime.realmTable.match(path)?.name);
    if (realm !== undefined) span.setAttribute(ATTR_REALM, realm);
    if (errorCode !== undefined) span.setAttribute(ATTR_ERROR_CODE, errorCode);
    span.setAttribute(ATTR_REQUEST_ID, taggedRequestId(req));
    if (status !== undefined && status >= 500) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute(ATTR_ERROR_TYPE, errorCode ?? String(status));
    }
    span.end();
  }

  /** The forward ended: the helpdesk's status, or the code of why the gateway gave up on it. */
  function endUpstream(span: Span, res: ServerResponse, errorCode: string | undefined): void {
    if (errorCode !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttributes({ [ATTR_ERROR_TYPE]: errorCode, [ATTR_ERROR_CODE]: errorCode });
    } else if (res.headersSent) {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 400) {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute(ATTR_ERROR_TYPE, String(res.statusCode));
      }
    }
    span.end();
  }

  return {
    serve(req: IncomingMessage, res: ServerResponse, next: () => void): void {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rawPath = q < 0 ? url : url.slice(0, q);
      if (UNTRACED_PATHS.has(rawPath)) {
        next();
        return;
      }
      let traced: RequestTrace;
      try {
        traced = startRequest(req, res, rawPath, deps.runtime());
      } catch (error) {
        // tracing must never cost a request its answer
        deps.log.error({ err: error }, 'could not start a request span');
        next();
        return;
      }
      scopes.run({ tracer, context: traced.context }, next);
    },

    forward(req: IncomingMessage, forwardedPath: string): string[] | undefined {
      const traced = requests.get(req);
      if (traced === undefined) return undefined;
      const upstream = deps.runtime().upstream.url;
      const q = forwardedPath.indexOf('?');
      const path = q < 0 ? forwardedPath : forwardedPath.slice(0, q);
      traced.upstream = tracer.startSpan(
        'upstream',
        {
          kind: SpanKind.CLIENT,
          attributes: {
            [ATTR_HTTP_REQUEST_METHOD]: traced.method,
            [ATTR_URL_FULL]: upstream.origin + path,
            [ATTR_SERVER_ADDRESS]: upstream.hostname,
            [ATTR_SERVER_PORT]: portOf(upstream),
          },
        },
        traced.context,
      );
      const carrier: Record<string, string> = {};
      propagator.inject(trace.setSpan(traced.context, traced.upstream), carrier, defaultTextMapSetter);
      const headers = ['traceparent', carrier.traceparent!];
      if (carrier.tracestate) headers.push('tracestate', carrier.tracestate);
      return headers;
    },

    flush(): Promise<void> {
      return provider.forceFlush();
    },

    async shutdown(): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, SHUTDOWN_EXPORT_MS);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => {}), bound]);
      clearTimeout(timer);
    },
  };
}
