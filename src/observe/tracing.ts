/**
 * OpenTelemetry traces, as the rest of the gateway sees them: a few call sites,
 * each a single check while tracing is off. The SDK (tracing-sdk.ts) is loaded
 * with a dynamic import only when observe.tracing is configured, so a gateway
 * without it loads no OpenTelemetry code and allocates nothing per request.
 *
 * The spans (docs/operations.md, "Tracing"):
 * - a server span per request (app.ts), ended when the response closes;
 * - `upstream`, a client span for the forward to the helpdesk (proxy/forward.ts),
 *   whose context goes to the helpdesk as traceparent/tracestate;
 * - `oidc.discovery`, `oidc.jwks`, `oidc.token`, `oidc.userinfo`: the calls to the
 *   provider (oidc/http.ts), `oidc.id_token` / `oidc.logout_token`: a token's
 *   check, keys included (oidc/id-token.ts), `session.refresh`: a refresh, lock
 *   and token request included (session/refresh.ts).
 * Children find their parent through an AsyncLocalStorage the server span runs
 * the request in; work outside a request (background key renewal, discovery at
 * start) has none and is not traced.
 *
 * What never goes into a span: a query string (codes, states), a cookie, a
 * token, a header value other than the user agent. Attributes are the HTTP
 * semantic conventions plus gatehouse.realm and gatehouse.error_code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from '../runtime.js';
import type { Logger } from './log.js';

export interface TracingSettings {
  /** OTLP/HTTP traces URL, used as written */
  readonly endpoint: string;
  /** share of the traces the gateway starts that are recorded */
  readonly sampleRatio: number;
  readonly serviceName: string;
}

/** What tests may set beside the settings (never the product's defaults). */
export interface TracingExportOptions {
  /** the batch processor's delay between exports (the SDK's default, or OTEL_BSP_SCHEDULE_DELAY, otherwise) */
  scheduledDelayMs?: number;
}

export interface TracingDeps {
  /** the current runtime (trusted proxies, realms), read per request */
  runtime: () => Runtime;
  log: Logger;
  version: string;
  export?: TracingExportOptions;
}

/** One gateway's tracer (tracing-sdk.ts). */
export interface Tracing {
  /** Run `next` (the request path) inside the request's server span; ends with the response. */
  serve(req: IncomingMessage, res: ServerResponse, next: () => void): void;
  /** Start the forward's client span (path: as forwarded); the trace headers for the helpdesk as [name, value, ...]. */
  forward(req: IncomingMessage, path: string): string[] | undefined;
  /** Export every ended span now. */
  flush(): Promise<void>;
  /** Export what is left (bounded in time) and stop. */
  shutdown(): Promise<void>;
}

/** The steps that get a span of their own under the request's. */
export type StepName = 'oidc.discovery' | 'oidc.jwks' | 'oidc.token' | 'oidc.userinfo' | 'oidc.id_token' | 'oidc.logout_token' | 'session.refresh';

/** What tracing-sdk.ts hooks into the call sites, the same for every gateway in the process. */
export interface TracingHooks {
  step<T>(name: StepName, fn: () => Promise<T>, outcome?: (result: T) => string | undefined): Promise<T>;
  providerCall<T extends { status: number }>(name: StepName, method: string, url: string, fn: () => Promise<T>): Promise<T>;
  noteErrorCode(req: object, code: string): void;
}

let hooks: TracingHooks | null = null;

export async function startTracing(settings: TracingSettings, deps: TracingDeps): Promise<Tracing> {
  const sdk = await import('./tracing-sdk.js');
  hooks = sdk.hooks;
  return sdk.createTracing(settings, deps);
}

/**
 * `fn` as a child span of the current request's span, if it is traced.
 * `outcome` names how it ended (gatehouse.outcome), from its result.
 */
export function traced<T>(name: StepName, fn: () => Promise<T>, outcome?: (result: T) => string | undefined): Promise<T> {
  return hooks === null ? fn() : hooks.step(name, fn, outcome);
}

/** A call to the provider (an HTTP client span) as a child of the current request's span, if it is traced. */
export function tracedProviderCall<T extends { status: number }>(name: StepName, method: string, url: string, fn: () => Promise<T>): Promise<T> {
  return hooks === null ? fn() : hooks.providerCall(name, method, url, fn);
}

/** The error code a request is answered with (gatehouse.error_code on its span); req: the request, or a view of its head. */
export function noteErrorCode(req: object, code: string): void {
  if (hooks !== null) hooks.noteErrorCode(req, code);
}
