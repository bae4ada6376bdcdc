/**
 * Header treatment for forwarding: which of the client's request headers reach
 * the helpdesk (hop-by-hop, forwarding and identity headers are the gateway's
 * own to set), and which of the helpdesk's response headers reach the client.
 * forward.ts (requests) and upgrade.ts (WebSocket handshakes) both use it.
 */
import type { IncomingMessage } from 'node:http';
import type { Runtime } from '../runtime.js';
import { publicHost } from '../edge/host.js';
import type { ForwardPlan } from './forward.js';

/** Hop-by-hop (RFC 9110 7.6.1): about one connection, never passed on in either direction. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade'];

/** Never copied from the client: hop-by-hop or set by the gateway. */
const DROPPED_REQUEST_HEADERS = new Set([
  ...HOP_BY_HOP,
  'proxy-authorization',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'forwarded',
  'x-real-ip',
  'x-request-id',
  // client-address headers helpdesks and frameworks believe, and path overrides (Symfony/IIS
  // X-Original-URL) that would make the helpdesk serve another path than the one judged here
  'x-client-ip',
  'true-client-ip',
  'x-cluster-client-ip',
  'client-ip',
  'x-original-url',
  'x-rewrite-url',
  // httpoxy: CGI/FastCGI helpdesks see it as HTTP_PROXY, which their HTTP clients take as their proxy
  'proxy',
  // node's server has already answered "100 Continue" to the client; undici refuses a request
  // carrying Expect, which made every upload that asked (curl, over 1 KiB) a 502
  'expect',
]);
const DROPPED_RESPONSE_HEADERS = new Set([...HOP_BY_HOP, 'proxy-authenticate']);
const WEBSOCKET_HEADERS = new Set(['upgrade', 'connection']);

function connectionTokens(req: IncomingMessage): Set<string> | null {
  const value = req.headers.connection;
  if (!value) return null;
  const tokens = new Set(
    value
      .toLowerCase()
      .split(',')
      .map((t) => t.trim())
      .filter((t) => t && t !== 'close' && t !== 'keep-alive'),
  );
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
type NameVerdict = { kind: 'drop' } | { kind: 'cookie' } | { kind: 'websocket' | 'keep' | 'trace'; lower: string };
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
  else if (lower === 'traceparent' || lower === 'tracestate') verdict = { kind: 'trace', lower };
  else verdict = { kind: 'keep', lower };
  if (table.verdicts.size < MAX_REMEMBERED_NAMES) table.verdicts.set(name, verdict);
  return verdict;
}

/** Content-Length other than 0, or any Transfer-Encoding. */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
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
      case 'trace':
        // W3C trace context crosses the gateway only from a trusted proxy, as X-Forwarded-* does; with
        // tracing on, the helpdesk is sent the context of the gateway's own span instead (below)
        if (plan.traceHeaders === undefined && plan.client.trusted && (listed === null || !listed.has(verdict.lower))) out.push(name, raw[i + 1]!);
        continue;
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
  if (plan.traceHeaders !== undefined) out.push(...plan.traceHeaders);
  const entry = plan.entry;
  if (entry) {
    for (let i = 0; i < entry.headers.length; i++) out.push(entry.headers[i]!);
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
export function responseHeaders(raw: ReadonlyArray<Buffer | string>, plan: ForwardPlan, hsts: string | null): string[] {
  const out: string[] = [];
  // with a session cookie of ours on it, the answer is one person's: the helpdesk's Cache-Control is made private
  const cacheControl: string[] | null = plan.setCookies ? [] : null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = latin1(raw[i]!);
    const lower = name.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(lower)) continue;
    if (cacheControl !== null && lower === 'cache-control') cacheControl.push(latin1(raw[i + 1]!));
    else out.push(name, latin1(raw[i + 1]!));
  }
  if (cacheControl !== null) out.push('cache-control', privateCacheControl(cacheControl));
  if (plan.setCookies) for (const line of plan.setCookies) out.push('set-cookie', line);
  if (plan.corsOrigin) out.push('access-control-allow-origin', plan.corsOrigin, 'access-control-allow-credentials', 'true', 'vary', 'Origin');
  if (hsts) out.push('strict-transport-security', hsts);
  return out;
}

function latin1(value: Buffer | string): string {
  return typeof value === 'string' ? value : value.toString('latin1');
}

/**
 * The helpdesk's Cache-Control directives without what lets a shared cache
 * store the answer (public, s-maxage), plus private unless no-store already
 * forbids every cache: a CDN that kept it would hand this Set-Cookie to others.
 */
function privateCacheControl(values: string[]): string {
  const kept = values
    .flatMap((v) => v.split(','))
    .map((d) => d.trim())
    .filter((d) => d !== '' && !/^(public|s-maxage\s*=.*)$/i.test(d));
  if (!kept.some((d) => /^(private|no-store)\b/i.test(d))) kept.unshift('private');
  return kept.join(', ');
}

/**
 * A helpdesk's refusal of an upgrade (any answer but 101), as name/value pairs
 * for the client: hop-by-hop and framing headers left out pairwise (the
 * gateway frames the answer itself and closes), every other name with its own value.
 */
export function refusalHeaders(raw: string[], bodyBytes: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (DROPPED_RESPONSE_HEADERS.has(lower) || lower === 'content-length') continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  out.push('content-length', String(bodyBytes), 'connection', 'close');
  return out;
}
