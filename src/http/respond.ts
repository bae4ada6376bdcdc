/**
 * Answers the gateway gives itself (not forwarded), as plain values so the raw
 * request path and the Fastify routes write them the same way: a page for a
 * person, JSON for code — decided by what the request accepts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { ERROR_CODES, GatehouseError, type ErrorCode } from '../errors.js';
import { contentSecurityPolicy, pageHeaders, type PageTheme } from './pages/layout.js';
import { errorPage } from './pages/pages.js';

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
export function isNavigation(req: IncomingMessage): boolean {
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

export function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html') && req.headers['x-requested-with'] === undefined;
}

export function jsonAnswer(status: number, body: unknown, headers: Record<string, string | string[]> = {}): Answer {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers }, body: JSON.stringify(body) };
}

export function htmlAnswer(status: number, html: string, csp: string, headers: Record<string, string | string[]> = {}): Answer {
  return { status, headers: { ...pageHeaders(csp), ...headers }, body: html };
}

/** The error as the person or the script should see it: code, safe message, request id — never the detail. */
export function errorAnswer(req: IncomingMessage, theme: PageTheme, error: GatehouseError | ErrorCode, requestId: string, extra: { headers?: Record<string, string | string[]>; retryHref?: string } = {}): Answer {
  const code = typeof error === 'string' ? error : error.code;
  const status = typeof error === 'string' ? ERROR_CODES[error].status : error.status;
  const message = ERROR_CODES[code].message;
  const headers: Record<string, string | string[]> = { 'x-request-id': requestId, ...(extra.headers ?? {}) };
  if (status === 503) headers['retry-after'] = '5';
  if (wantsHtml(req)) {
    return htmlAnswer(status, errorPage(theme, { status, code, message, requestId, retryHref: extra.retryHref }), contentSecurityPolicy(theme), headers);
  }
  return jsonAnswer(status, { error: code, message, request_id: requestId }, headers);
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
