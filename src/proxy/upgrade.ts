/**
 * WebSocket upgrades, on the raw socket (no HTTP response object exists for
 * one): refusals written by hand, and a forwarded handshake piped byte for
 * byte after the same header treatment as any request (headers.ts).
 */
import { STATUS_CODES, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Gateway } from '../gateway.js';
import type { ForwardPlan } from './forward.js';
import { refusalHeaders, upstreamHeaders } from './headers.js';

/** A response head for the raw socket; the reason phrase is node's for the status. */
function rawHead(status: number, headers: string[]): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i < headers.length; i += 2) head += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/** Refuse an upgrade on the raw socket. */
export function refuseUpgrade(socket: Duplex, status: number, code: string, requestId: string, setCookies: string[] | null = null): void {
  const body = JSON.stringify({ error: code, request_id: requestId });
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body)), 'connection', 'close'];
  if (setCookies) for (const line of setCookies) headers.push('set-cookie', line);
  socket.end(rawHead(status, headers) + body);
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
      socket.end(rawHead(response.statusCode ?? 502, refusalHeaders(response.rawHeaders, Buffer.byteLength(body))) + body);
    });
  });
  upstreamReq.on('upgrade', (response, upstreamSocket, upstreamHead) => {
    const out: string[] = [];
    for (let i = 0; i < response.rawHeaders.length; i += 2) out.push(response.rawHeaders[i]!, response.rawHeaders[i + 1]!);
    if (plan.setCookies) for (const line of plan.setCookies) out.push('Set-Cookie', line);
    socket.write(rawHead(response.statusCode ?? 101, out));
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
