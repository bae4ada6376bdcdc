/**
 * Answers the gateway gives itself (not forwarded), as plain values so the raw
 * request path and the Fastify routes write them the same way: a page for a
 * person, JSON for code — decided by what the request accepts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { ERROR_CODES, type GatehouseError, type ErrorCode } from '../errors.js';
import { contentSecurityPolicy, pageHeaders, type PageTheme } from './pages/layout.js';
import { errorPage, type AccountShown, type PageAction } from './pages/pages.js';
import { noteErrorCode } from '../observe/tracing.js';

/**
 * What an answer is decided from: a request's method, target and headers. The
 * request on the socket is one; so is the original request a proxy names to
 * forward-auth (flows/forward-auth.ts), which never reaches the gateway itself.
 */
export type RequestHead = Pick<IncomingMessage, 'method' | 'url' | 'headers'>;

export interface Answer {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/**
 * A browser navigation: GET/HEAD that accepts HTML and is not marked as a script
 * request. Only these are ever redirected to the provider; everything else gets
 * a 401 it can act on.
 */
export function isNavigation(req: RequestHead): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const headers = req.headers;
  if (headers['x-requested-with'] !== undefined) return false;
  const mode = headers['sec-fetch-mode'];
  if (mode !== undefined && mode !== 'navigate') return false;
  const dest = headers['sec-fetch-dest'];
  if (dest !== undefined && dest !== 'document' && dest !== 'iframe') return false;
  const accept = headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

export function wantsHtml(req: RequestHead): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html') && req.headers['x-requested-with'] === undefined;
}

export function jsonAnswer(status: number, body: unknown, headers: Record<string, string | string[]> = {}): Answer {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(body) };
}

export function htmlAnswer(status: number, html: string, csp: string, headers: Record<string, string | string[]> = {}): Answer {
  return { status, headers: { ...pageHeaders(csp), ...headers }, body: html };
}

/** What an error answer may add to the code, message and request id. */
export interface ErrorExtras {
  headers?: Record<string, string | string[]>;
  /** what the page offers next (the first one as its main button) */
  actions?: readonly PageAction[];
  /** shorthand for one "Sign in again" link */
  retryHref?: string;
  /** who is signed in, when that is why the person is refused */
  account?: AccountShown;
  /** origins a form on the page may end up at (CSP form-action also governs the redirect after the POST) */
  formTargets?: readonly string[];
  /** more JSON fields for scripts (never a secret) */
  json?: Record<string, unknown>;
}

/** The error as the person or the script should see it: code, safe message, request id — never the detail. */
export function errorAnswer(req: RequestHead, theme: PageTheme, error: GatehouseError | ErrorCode, requestId: string, extra: ErrorExtras = {}): Answer {
  const code = typeof error === 'string' ? error : error.code;
  const status = typeof error === 'string' ? ERROR_CODES[error].status : error.status;
  const message = ERROR_CODES[code].message;
  noteErrorCode(req, code);
  const headers: Record<string, string | string[]> = { 'x-request-id': requestId, ...(extra.headers ?? {}) };
  if (status === 503) headers['retry-after'] = '5';
  if (wantsHtml(req)) {
    const actions = extra.actions ?? (extra.retryHref ? [{ kind: 'link' as const, href: extra.retryHref, label: 'Sign in again' }] : []);
    const html = errorPage(theme, { status, code, message, requestId, actions, account: extra.account });
    return htmlAnswer(status, html, contentSecurityPolicy(theme, extra.formTargets), headers);
  }
  return jsonAnswer(status, { error: code, message, request_id: requestId, ...(extra.json ?? {}) }, headers);
}

export function writeAnswer(res: ServerResponse, answer: Answer, extraHeaders?: Record<string, string | string[]>): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const headers = extraHeaders ? { ...answer.headers, ...extraHeaders } : answer.headers;
  res.writeHead(answer.status, { ...headers, 'content-length': Buffer.byteLength(answer.body) });
  res.end(res.req?.method === 'HEAD' ? undefined : answer.body);
}

export function sendAnswer(reply: FastifyReply, answer: Answer): FastifyReply {
  return reply.code(answer.status).headers(answer.headers).send(answer.body);
}
