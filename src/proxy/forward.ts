/**
 * Forwarding to the helpdesk: undici's connection pool directly (no framework
 * on this path), with the header treatment of headers.ts. Upstream failures
 * become 502/504 answers within upstream.timeout; a client that goes away
 * aborts the upstream request. WebSocket upgrades: upgrade.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Gateway, SessionEntry } from '../gateway.js';
import type { Runtime } from '../runtime.js';
import type { ClientView } from '../edge/client-address.js';
import { GatehouseError } from '../errors.js';
import { errorAnswer, writeAnswer } from '../edge/respond.js';
import { logAccess } from '../observe/access-log.js';
import { hasBody, responseHeaders, upstreamHeaders } from './headers.js';
import type { SlotKind, SlotWaiter } from './upstream-slots.js';

export interface ForwardPlan {
  /** normalized path and the original query */
  path: string;
  entry: SessionEntry | null;
  client: ClientView;
  requestId: string;
  /** Set-Cookie lines of the gateway's own (a re-sealed session) */
  setCookies: string[] | null;
  /** an allowed CORS origin to echo */
  corsOrigin: string | null;
  /** traceparent (and tracestate) of the forward's own span, as name, value pairs: set only when tracing is on */
  traceHeaders?: string[] | undefined;
}

function upstreamError(error: unknown): GatehouseError {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new GatehouseError('GH_UPSTREAM_TIMEOUT', `helpdesk did not answer in time (${code})`, { cause: error });
  }
  return new GatehouseError('GH_UPSTREAM_UNAVAILABLE', `helpdesk unreachable: ${(error as Error).message}`, { cause: error });
}

/** Parsed headers as a flat name/value list, for a dispatcher that keeps no raw list. */
function flatten(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (Array.isArray(value)) for (const v of value) out.push(name, v);
    else if (value !== undefined) out.push(name, value);
  }
  return out;
}

/**
 * One forwarded request, as an undici dispatch handler: the helpdesk's answer is
 * written straight to the client's response, with backpressure both ways. No
 * AbortController, no stream wrapper and no promise per request: a client that
 * goes away aborts through the controller undici hands over in onRequestStart.
 * undici's handler API says nothing of the request body's progress, so the
 * body's own stream (the client's request) tells how much of it was sent.
 *
 * Its deadlines, one timer each:
 * - the helpdesk's answer (its head) within upstream.timeout of the request's
 *   arrival, the wait for a connection included (upstream-slots.ts): 504.
 *   The time the client takes to send its body is the client's and does not
 *   count: the clock stops while the body is being sent and goes on after;
 * - the body itself: all of it within limits.body_timeout, extended by 1 s per
 *   limits.body_min_rate bytes received (Apache mod_reqtimeout's rule), or
 *   408 — and the upstream connection is dropped, never reused with half a body.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  /** undici's hold on the upstream request, from onRequestStart */
  private controller: Dispatcher.DispatchController | null = null;
  /** answered, or given up on (deadline, client gone): what undici reports from now on only frees the slot */
  private settled = false;
  private readonly started = performance.now();
  private readonly runtime: Runtime;
  private readonly kind: SlotKind;
  private waiter: SlotWaiter | null = null;
  private holdsSlot = false;
  private headReceived = false;
  private deadline: NodeJS.Timeout | null = null;
  /** the request body as undici sends it; null for a request without one */
  private readonly body: { startedAt: number; bytes: number; timer: NodeJS.Timeout | null; sent: boolean } | null;

  constructor(
    private readonly gw: Gateway,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly plan: ForwardPlan,
  ) {
    this.runtime = gw.runtime;
    this.kind = plan.entry ? 'signed-in' : 'public';
    this.body = hasBody(req) ? { startedAt: 0, bytes: 0, timer: null, sent: false } : null;
  }

  start(): void {
    this.deadline = setTimeout(this.onDeadline, this.runtime.upstream.timeoutMs);
    this.waiter = this.gw.upstreamSlots.acquire(this.kind, this.dispatch);
    if (this.waiter === null) this.dispatch();
  }

  /** a pool connection is this request's to use */
  private readonly dispatch = (): void => {
    this.waiter = null;
    this.holdsSlot = true;
    if (this.settled) {
      this.releaseSlot();
      return;
    }
    const runtime = this.runtime;
    this.gw.upstreamPool.dispatch(
      {
        path: this.plan.path,
        method: this.req.method as 'GET',
        headers: upstreamHeaders(this.req, runtime, this.plan),
        body: this.body ? this.req : null,
        headersTimeout: runtime.upstream.timeoutMs,
        bodyTimeout: runtime.upstream.timeoutMs,
      },
      this,
    );
  };

  private releaseSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    this.gw.upstreamSlots.release(this.kind);
  }

  private stopTimers(): void {
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    if (this.body?.timer) clearTimeout(this.body.timer);
    if (this.body) this.body.timer = null;
  }

  /** nothing more to wait for: no timers, no place in the queue */
  private settle(): void {
    this.settled = true;
    this.stopTimers();
    if (this.waiter !== null) this.gw.upstreamSlots.cancel(this.waiter);
    this.waiter = null;
  }

  /** res 'close' before the answer was complete: the client went away, so does the upstream request */
  readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    this.settle();
    this.controller?.abort(new Error('client closed the connection'));
  };

  private readonly onDeadline = (): void => {
    this.deadline = null;
    if (this.settled || this.headReceived) return;
    // the client is still sending its body: its own time, bounded by the body rules; the clock goes on after it
    if (this.body !== null && this.controller !== null && !this.body.sent) return;
    const waiting = this.waiter !== null ? ', still waiting for a connection' : '';
    this.fail(
      new GatehouseError('GH_UPSTREAM_TIMEOUT', `no answer within upstream.timeout (${this.runtime.upstream.timeoutMs} ms) of the request's arrival${waiting}`),
    );
  };

  private readonly onBodyTimer = (): void => {
    const body = this.body!;
    body.timer = null;
    if (this.settled || body.sent) return;
    const limits = this.runtime.limits;
    const now = performance.now();
    const allowedUntil = body.startedAt + limits.bodyTimeoutMs + (body.bytes * 1000) / limits.bodyMinRate;
    if (now < allowedUntil) {
      body.timer = setTimeout(this.onBodyTimer, allowedUntil - now);
      return;
    }
    this.fail(
      new GatehouseError(
        'GH_BODY_TIMEOUT',
        `${body.bytes} body bytes in ${Math.round(now - body.startedAt)} ms (limits.body_timeout ${limits.bodyTimeoutMs} ms, body_min_rate ${limits.bodyMinRate} bytes/s)`,
      ),
    );
  };

  /** The gateway gives up on the request (a deadline): the client is answered, the upstream request aborted. */
  private fail(gh: GatehouseError): void {
    this.settle();
    const gw = this.gw;
    const slowBody = gh.code === 'GH_BODY_TIMEOUT';
    if (!slowBody) gw.metrics.request(this.plan.entry?.realm.name ?? '-', 'error');
    gw.log.warn(
      { code: gh.code, detail: gh.detail, requestId: this.plan.requestId, path: this.plan.path.split('?')[0] },
      slowBody ? 'request body too slow' : 'upstream request failed',
    );
    const abort = (): void => this.controller?.abort(gh);
    const unreadBody = this.body !== null && !this.body.sent;
    // the rest of the body is never read: this connection cannot carry another request
    writeAnswer(this.res, errorAnswer(this.req, this.runtime.theme, gh, this.plan.requestId), unreadBody ? { connection: 'close' } : undefined);
    if (unreadBody) {
      // aborting destroys the body stream (the client's request, and its socket): only once the answer is out
      this.res.once('finish', abort);
      this.res.once('close', abort);
    } else abort();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled) {
      controller.abort(new Error('request given up before it was sent'));
      return;
    }
    this.controller = controller;
    const body = this.body;
    if (body !== null) {
      body.startedAt = performance.now();
      body.timer = setTimeout(this.onBodyTimer, this.runtime.limits.bodyTimeoutMs);
      // undici starts reading the body in this same turn, after this: both listeners see every chunk
      this.req.on('data', this.countBodyChunk);
      this.req.once('end', this.bodyAllSent);
    }
  }

  private readonly countBodyChunk = (chunk: Buffer): void => {
    this.body!.bytes += chunk.length;
  };

  /** the whole body was read from the client and handed to undici */
  private readonly bodyAllSent = (): void => {
    const body = this.body!;
    if (body.sent) return;
    body.sent = true;
    if (body.timer !== null) clearTimeout(body.timer);
    body.timer = null;
    if (this.settled || this.headReceived) return;
    // the deadline goes on with what was left of it when the body began
    if (this.deadline !== null) clearTimeout(this.deadline);
    const left = this.started + this.runtime.upstream.timeoutMs - body.startedAt;
    this.deadline = setTimeout(this.onDeadline, Math.max(0, left));
  };

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // given up, its abort may wait for the refusal to be written (fail): until then nothing more is read
    if (this.settled) {
      controller.pause();
      return;
    }
    this.headReceived = true;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    this.gw.metrics.upstream((performance.now() - this.started) / 1000);
    // the raw name/value list (order, spelling and repeated names as sent) where undici keeps it
    const raw = controller.rawHeaders;
    this.res.writeHead(statusCode, responseHeaders(Array.isArray(raw) ? raw : flatten(headers), this.plan, this.runtime.hstsHeader));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.settled) {
      controller.pause();
      return;
    }
    if (this.res.write(chunk)) return;
    // the client reads slower than the helpdesk sends: pause the upstream socket until it drains
    controller.pause();
    this.res.once('drain', () => controller.resume());
  }

  onResponseEnd(): void {
    this.stopTimers();
    this.releaseSlot();
    if (this.settled) return;
    this.settled = true;
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.stopTimers();
    this.releaseSlot();
    if (this.settled) return;
    this.settled = true;
    const gh = upstreamError(error);
    const gw = this.gw;
    gw.metrics.request(this.plan.entry?.realm.name ?? '-', 'error');
    gw.log.warn({ code: gh.code, detail: gh.detail, requestId: this.plan.requestId, path: this.plan.path.split('?')[0] }, 'upstream request failed');
    // after the head was sent there is no answer left to give: cut the connection (writeAnswer does)
    writeAnswer(this.res, errorAnswer(this.req, this.runtime.theme, gh, this.plan.requestId));
  }
}

export function forward(gw: Gateway, req: IncomingMessage, res: ServerResponse, plan: ForwardPlan): void {
  // observe.tracing set: the forward's client span, whose context the helpdesk is sent (observe/tracing.ts)
  if (gw.tracing) plan.traceHeaders = gw.tracing.forward(req, plan.path);
  const handler = new ForwardHandler(gw, req, res, plan);
  res.once('close', handler.onClientClose);
  if (gw.runtime.config.log.access) {
    const started = performance.now();
    res.once('close', () =>
      logAccess(gw.log, req, res, { requestId: plan.requestId, realm: plan.entry?.realm.name ?? '-', path: plan.path, ip: plan.client.ip }, started),
    );
  }
  handler.start();
}
