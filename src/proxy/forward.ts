/**
 * Forwarding to the helpdesk: undici's connection pool directly (no framework
 * on this path), the inbound headers copied except hop-by-hop, forwarding and
 * identity headers, which the gateway sets itself. Upstream failures become
 * 502/504 answers within upstream.timeout; a client that goes away aborts the
 * upstream request. WebSocket upgrades are piped byte for byte after the same
 * header treatment.
 */
import { STATUS_CODES, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Gateway, SessionEntry } from '../gateway.js';
import type { Runtime } from '../runtime.js';
import type { ClientView } from '../edge/client-address.js';
import { GatehouseError } from '../errors.js';
import { errorAnswer, writeAnswer } from '../edge/respond.js';
import { logAccess } from '../observe/access-log.js';
import { publicHost } from '../edge/host.js';
import type { SlotKind, SlotWaiter } from './upstream-slots.js';

/** Never copied from the client: hop-by-hop (RFC 9110 7.6.1) or set by the gateway. */
const DROPPED_REQUEST_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authorization', 'host', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host',
  'x-forwarded-port', 'forwarded', 'x-real-ip', 'x-request-id',
  // client-address headers helpdesks and frameworks believe, and path overrides (Symfony/IIS
  // X-Original-URL) that would make the helpdesk serve another path than the one judged here
  'x-client-ip', 'true-client-ip', 'x-cluster-client-ip', 'client-ip', 'x-original-url', 'x-rewrite-url',
  // httpoxy: CGI/FastCGI helpdesks see it as HTTP_PROXY, which their HTTP clients take as their proxy
  'proxy',
  // node's server has already answered "100 Continue" to the client; undici refuses a request
  // carrying Expect, which made every upload that asked (curl, over 1 KiB) a 502
  'expect',
]);
const DROPPED_RESPONSE_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authenticate']);
const WEBSOCKET_HEADERS = new Set(['upgrade', 'connection']);

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
}

function connectionTokens(req: IncomingMessage): Set<string> | null {
  const value = req.headers.connection;
  if (!value) return null;
  const tokens = new Set(value.toLowerCase().split(',').map((t) => t.trim()).filter((t) => t && t !== 'close' && t !== 'keep-alive'));
  return tokens.size ? tokens : null;
}

/**
 * The Cookie header without the gateway's own cookies (session chunks of every
 * realm, login attempts): they are credentials for the gateway, not for the
 * helpdesk, which could log them, and a chunked session would push the header
 * past common upstream limits (Apache: 8190 bytes per field). null: nothing left.
 */
function withoutGatewayCookies(value: string, ownPrefix: string): string | null {
  if (!value.includes(ownPrefix)) return value;
  // a scan, not split/filter/join: no arrays on every signed-in request
  let kept: string | null = null;
  for (let start = 0; start <= value.length; ) {
    let end = value.indexOf(';', start);
    if (end < 0) end = value.length;
    const pair = value.slice(start, end);
    if (!pair.trimStart().startsWith(ownPrefix)) kept = kept === null ? pair : `${kept};${pair}`;
    start = end + 1;
  }
  return kept === null ? null : kept.trim();
}

/** What a request header's name means for forwarding. */
type NameVerdict = { kind: 'drop' } | { kind: 'cookie' } | { kind: 'websocket' | 'keep'; lower: string };
const MAX_REMEMBERED_NAMES = 512;

/** What forwarding derives from one config load, made on its first request rather than per request. */
interface ForwardingTable {
  /** the gateway's own cookies (session chunks of every realm, login attempts) start with this */
  readonly ownCookiePrefix: string;
  readonly identityPrefix: string;
  /** header spellings seen, judged (up to MAX_REMEMBERED_NAMES) */
  readonly verdicts: Map<string, NameVerdict>;
}
const tables = new WeakMap<Runtime, ForwardingTable>();

function forwardingTable(runtime: Runtime): ForwardingTable {
  let table = tables.get(runtime);
  if (table === undefined) {
    table = { ownCookiePrefix: `${runtime.cookiePrefix}gatehouse-`, identityPrefix: runtime.identity.prefix, verdicts: new Map() };
    tables.set(runtime, table);
  }
  return table;
}

/**
 * The same few header names arrive on every request, spelled the same way:
 * each spelling is judged once per config load (lower-cased, underscores read
 * as dashes, checked against the dropped names and the identity prefix) and
 * remembered, up to a bound — past it, names are judged each time.
 */
function verdictFor(table: ForwardingTable, name: string): NameVerdict {
  const known = table.verdicts.get(name);
  if (known !== undefined) return known;
  // CGI/FastCGI (PHP helpdesks) read X_Auth_Subject and X-Auth-Subject as the same
  // HTTP_X_AUTH_SUBJECT variable: judge every name by its dash spelling
  const lower = name.includes('_') ? name.toLowerCase().replace(/_/g, '-') : name.toLowerCase();
  let verdict: NameVerdict;
  if (WEBSOCKET_HEADERS.has(lower)) verdict = { kind: 'websocket', lower };
  // every X-Forwarded-* is the gateway's to set (for, proto and host below): none comes from the client
  else if (DROPPED_REQUEST_HEADERS.has(lower) || lower.startsWith(table.identityPrefix) || lower.startsWith('x-forwarded-')) verdict = { kind: 'drop' };
  else if (lower === 'cookie') verdict = { kind: 'cookie' };
  else verdict = { kind: 'keep', lower };
  if (table.verdicts.size < MAX_REMEMBERED_NAMES) table.verdicts.set(name, verdict);
  return verdict;
}

/** The headers sent upstream, as a flat [name, value, ...] list. */
export function upstreamHeaders(req: IncomingMessage, runtime: Runtime, plan: ForwardPlan, websocket = false): string[] {
  const table = forwardingTable(runtime);
  const listed = connectionTokens(req);
  const raw = req.rawHeaders;
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const verdict = verdictFor(table, name);
    switch (verdict.kind) {
      case 'drop':
        continue;
      case 'websocket':
        // hop-by-hop (dropped below), except on the upgrade itself
        if (websocket) out.push(name, raw[i + 1]!);
        continue;
      case 'cookie': {
        if (listed?.has('cookie')) continue;
        const cookie = withoutGatewayCookies(raw[i + 1]!, table.ownCookiePrefix);
        if (cookie !== null) out.push(name, cookie);
        continue;
      }
      case 'keep':
        // a header the client listed in Connection is hop-by-hop too
        if (listed === null || !listed.has(verdict.lower)) out.push(name, raw[i + 1]!);
    }
  }
  const upstream = runtime.upstream;
  // the host the request named was checked to be public_url's (front.ts): send it as public_url spells it
  const host = publicHost(runtime);
  out.push('host', upstream.preserveHost ? host : upstream.url.host);
  out.push('x-forwarded-for', plan.client.forwardedFor, 'x-forwarded-proto', plan.client.proto, 'x-request-id', plan.requestId, 'x-forwarded-host', host);
  const entry = plan.entry;
  if (entry) {
    for (const [name, value] of entry.headers) out.push(name, value);
    out.push(runtime.identity.names.assertion, entry.assertion);
  }
  return out;
}

/**
 * The helpdesk's response headers as undici hands them over (raw name/value
 * bytes, in order, repeated names kept), minus hop-by-hop, plus the gateway's
 * own. latin1 keeps every byte as it came (a UTF-8 filename in
 * Content-Disposition reaches the browser intact), as undici's own parsing does.
 */
function responseHeaders(raw: Buffer[], plan: ForwardPlan, hsts: string | null): string[] {
  const out: string[] = [];
  // with a session cookie of ours on it, the answer is one person's: the helpdesk's Cache-Control is made private
  const cacheControl: string[] | null = plan.setCookies ? [] : null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(lower)) continue;
    if (cacheControl !== null && lower === 'cache-control') cacheControl.push(raw[i + 1]!.toString('latin1'));
    else out.push(name, raw[i + 1]!.toString('latin1'));
  }
  if (cacheControl !== null) out.push('cache-control', privateCacheControl(cacheControl));
  if (plan.setCookies) for (const line of plan.setCookies) out.push('set-cookie', line);
  if (plan.corsOrigin) out.push('access-control-allow-origin', plan.corsOrigin, 'access-control-allow-credentials', 'true', 'vary', 'Origin');
  if (hsts) out.push('strict-transport-security', hsts);
  return out;
}

/**
 * The helpdesk's Cache-Control directives without what lets a shared cache
 * store the answer (public, s-maxage), plus private unless no-store already
 * forbids every cache: a CDN that kept it would hand this Set-Cookie to others.
 */
function privateCacheControl(values: string[]): string {
  const kept = values.flatMap((v) => v.split(',')).map((d) => d.trim()).filter((d) => d !== '' && !/^(public|s-maxage\s*=.*)$/i.test(d));
  if (!kept.some((d) => /^(private|no-store)\b/i.test(d))) kept.unshift('private');
  return kept.join(', ');
}

function upstreamError(error: unknown): GatehouseError {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new GatehouseError('GH_UPSTREAM_TIMEOUT', `helpdesk did not answer in time (${code})`, { cause: error });
  }
  return new GatehouseError('GH_UPSTREAM_UNAVAILABLE', `helpdesk unreachable: ${(error as Error).message}`, { cause: error });
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/**
 * One forwarded request, as an undici dispatch handler: the helpdesk's answer is
 * written straight to the client's response, with backpressure both ways. No
 * AbortController, no stream wrapper and no promise per request: a client that
 * goes away calls the abort function undici hands over in onConnect.
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
class ForwardHandler {
  private abortUpstream: ((reason?: Error) => void) | null = null;
  /** answered, or given up on (deadline, client gone): what undici reports from now on only frees the slot */
  private settled = false;
  private resume: (() => void) | null = null;
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
      this as unknown as Parameters<Gateway['upstreamPool']['dispatch']>[1],
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
    this.abortUpstream?.(new Error('client closed the connection'));
  };

  private readonly onDeadline = (): void => {
    this.deadline = null;
    if (this.settled || this.headReceived) return;
    // the client is still sending its body: its own time, bounded by the body rules; the clock goes on after it
    if (this.body !== null && this.abortUpstream !== null && !this.body.sent) return;
    const waiting = this.waiter !== null ? ', still waiting for a connection' : '';
    this.fail(new GatehouseError('GH_UPSTREAM_TIMEOUT', `no answer within upstream.timeout (${this.runtime.upstream.timeoutMs} ms) of the request's arrival${waiting}`));
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
    this.fail(new GatehouseError('GH_BODY_TIMEOUT', `${body.bytes} body bytes in ${Math.round(now - body.startedAt)} ms (limits.body_timeout ${limits.bodyTimeoutMs} ms, body_min_rate ${limits.bodyMinRate} bytes/s)`));
  };

  /** The gateway gives up on the request (a deadline): the client is answered, the upstream request aborted. */
  private fail(gh: GatehouseError): void {
    this.settle();
    const gw = this.gw;
    const slowBody = gh.code === 'GH_BODY_TIMEOUT';
    if (!slowBody) gw.metrics.request(this.plan.entry?.realm.name ?? '-', 'error');
    gw.log.warn({ code: gh.code, detail: gh.detail, requestId: this.plan.requestId, path: this.plan.path.split('?')[0] }, slowBody ? 'request body too slow' : 'upstream request failed');
    const abort = (): void => this.abortUpstream?.(gh);
    const unreadBody = this.body !== null && !this.body.sent;
    // the rest of the body is never read: this connection cannot carry another request
    writeAnswer(this.res, errorAnswer(this.req, this.runtime.theme, gh, this.plan.requestId), unreadBody ? { connection: 'close' } : undefined);
    if (unreadBody) {
      // aborting destroys the body stream (the client's request, and its socket): only once the answer is out
      this.res.once('finish', abort);
      this.res.once('close', abort);
    } else abort();
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.settled) {
      abort(new Error('request given up before it was sent'));
      return;
    }
    this.abortUpstream = abort;
    if (this.body !== null) {
      this.body.startedAt = performance.now();
      this.body.timer = setTimeout(this.onBodyTimer, this.runtime.limits.bodyTimeoutMs);
    }
  }

  onBodySent(chunk: Buffer): void {
    this.body!.bytes += chunk.length;
  }

  onRequestSent(): void {
    const body = this.body;
    if (body === null || body.sent) return;
    body.sent = true;
    if (body.timer !== null) clearTimeout(body.timer);
    body.timer = null;
    if (this.settled || this.headReceived) return;
    // the deadline goes on with what was left of it when the body began
    if (this.deadline !== null) clearTimeout(this.deadline);
    const left = this.started + this.runtime.upstream.timeoutMs - body.startedAt;
    this.deadline = setTimeout(this.onDeadline, Math.max(0, left));
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (this.settled) return false;
    this.headReceived = true;
    if (this.deadline !== null) clearTimeout(this.deadline);
    this.deadline = null;
    this.gw.metrics.upstream((performance.now() - this.started) / 1000);
    this.res.writeHead(statusCode, responseHeaders(rawHeaders, this.plan, this.runtime.hstsHeader));
    this.resume = resume;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return false;
    if (this.res.write(chunk)) return true;
    // the client reads slower than the helpdesk sends: pause the upstream socket until it drains
    this.res.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    this.stopTimers();
    this.releaseSlot();
    if (this.settled) return;
    this.settled = true;
    this.res.end();
  }

  onError(error: Error): void {
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
  const handler = new ForwardHandler(gw, req, res, plan);
  res.once('close', handler.onClientClose);
  if (gw.runtime.config.log.access) {
    const started = performance.now();
    res.once('close', () => logAccess(gw.log, req, res, { requestId: plan.requestId, realm: plan.entry?.realm.name ?? '-', path: plan.path, ip: plan.client.ip }, started));
  }
  handler.start();
}

function writeRawResponse(socket: Duplex, status: number, reason: string, headers: string[], body = ''): void {
  let head = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.end(`${head}\r\n${body}`);
}

/** Refuse an upgrade on the raw socket (no HTTP response object exists for it). */
export function refuseUpgrade(socket: Duplex, status: number, code: string, requestId: string): void {
  const body = JSON.stringify({ error: code, request_id: requestId });
  writeRawResponse(socket, status, STATUS_CODES[status] ?? '', ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close'], body);
}

/**
 * A helpdesk's refusal of an upgrade (any answer but 101), as name/value pairs
 * for the client: hop-by-hop and framing headers left out pairwise (the
 * gateway frames the answer itself and closes), every other name with its own value.
 */
function refusalHeaders(raw: string[], bodyBytes: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(lower) || lower === 'content-length') continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  out.push('content-length', String(bodyBytes), 'connection', 'close');
  return out;
}

/** Set by forwardUpgrade itself (an upgrade has no body: front.ts refuses one that announces one). */
const UPGRADE_OWN_HEADERS = new Set(['connection', 'upgrade', 'content-length']);

/**
 * WebSocket upgrade (front.ts forwards no other): connect upstream with the same header
 * treatment, then pipe bytes. Each upgrade gets a connection of its own, never
 * one from a pool, and it is closed when the upgrade ends or is refused: bytes
 * an upgrade leaves behind on its connection can then never be read as the
 * start of someone else's request. (An upgrade announcing a body is refused
 * before it gets here, front.ts; none is forwarded with a Content-Length.)
 */
export function forwardUpgrade(gw: Gateway, req: IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan): void {
  const runtime = gw.runtime;
  const target = runtime.upstream.url;
  const flat = upstreamHeaders(req, runtime, plan, true);
  const headers: Array<[string, string]> = [];
  for (let i = 0; i < flat.length; i += 2) if (!UPGRADE_OWN_HEADERS.has(flat[i]!.toLowerCase())) headers.push([flat[i]!, flat[i + 1]!]);
  // the gateway's own, not the client's list (which could name headers for a proxy behind to strip)
  headers.push(['Connection', 'Upgrade'], ['Upgrade', 'websocket']);
  const requestFn = target.protocol === 'https:' ? httpsRequest : httpRequest;
  const upstreamReq = requestFn({
    host: target.hostname,
    port: target.port || (target.protocol === 'https:' ? 443 : 80),
    method: req.method,
    path: plan.path,
    headers: headers as unknown as Record<string, string>,
    timeout: runtime.upstream.timeoutMs,
    // a fresh connection, not node's global keep-alive pool
    agent: false,
  });
  socket.on('error', () => upstreamReq.destroy());
  upstreamReq.on('timeout', () => upstreamReq.destroy(new Error('timeout')));
  upstreamReq.on('error', () => {
    if (socket.writable) refuseUpgrade(socket, 502, 'GH_UPSTREAM_UNAVAILABLE', plan.requestId);
  });
  upstreamReq.on('response', (response) => {
    // the helpdesk refused the upgrade: relay its answer and close (agent: false closes the upstream side)
    let body = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (body.length < 65536) body += chunk;
    });
    response.on('end', () => {
      writeRawResponse(socket, response.statusCode ?? 502, response.statusMessage ?? '', refusalHeaders(response.rawHeaders, Buffer.byteLength(body)), body);
    });
  });
  upstreamReq.on('upgrade', (response, upstreamSocket, upstreamHead) => {
    const out: string[] = [];
    for (let i = 0; i < response.rawHeaders.length; i += 2) out.push(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
    if (plan.setCookies) for (const line of plan.setCookies) out.push('Set-Cookie', line);
    let headText = `HTTP/1.1 ${response.statusCode ?? 101} ${response.statusMessage ?? 'Switching Protocols'}\r\n`;
    for (let i = 0; i < out.length; i += 2) headText += `${out[i]}: ${out[i + 1]}\r\n`;
    socket.write(`${headText}\r\n`);
    if (upstreamHead.length) socket.write(upstreamHead);
    if (head.length) upstreamSocket.write(head);
    upstreamSocket.on('error', () => socket.destroy());
    socket.on('error', () => upstreamSocket.destroy());
    upstreamSocket.on('close', () => socket.destroy());
    socket.on('close', () => upstreamSocket.destroy());
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
  });
  upstreamReq.end();
}
