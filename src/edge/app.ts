/**
 * buildApp(gateway) → a Fastify instance whose HTTP server runs front.ts first:
 * signed-in, public and refused requests are answered there without the
 * framework; the reserved endpoints (/.gatehouse/*, callbacks, logout) are
 * Fastify routes. Never calls listen().
 */
import { STATUS_CODES, createServer as createHttpServer, type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Gateway } from '../gateway.js';
import { GatehouseError, isGatehouseError } from '../errors.js';
import { handleRequest, handleUpgrade } from './front.js';
import { taggedRequestId } from './request-id.js';
import { registerReservedRoutes } from '../routing/reserved.js';
import { errorAnswer, sendAnswer, writeAnswer } from './respond.js';
import { RenewalUnavailableError } from '../flows/authenticate.js';

export const MAX_FORM_BYTES = 64 * 1024;

function createServer(gw: Gateway, handler: (req: IncomingMessage, res: ServerResponse) => void): Server {
  const runtime = gw.runtime;
  const options = {
    maxHeaderSize: runtime.limits.maxHeaderBytes,
    headersTimeout: runtime.limits.headerTimeoutMs,
    // Node checks headersTimeout only every connectionsCheckingInterval (default 30 s):
    // without this a slowloris client holds its socket for up to 30 s past header_timeout
    connectionsCheckingInterval: Math.min(1000, runtime.limits.headerTimeoutMs),
    // no whole-request limit, which would cut long uploads: a forwarded body has its own deadline and
    // minimum rate (limits.body_timeout, body_min_rate in proxy.ts), from when it is sent upstream
    requestTimeout: 0,
    keepAliveTimeout: 5000,
  };
  const tls = runtime.config.listen.tls;
  const unexpected = (req: IncomingMessage, res: ServerResponse, error: unknown): void => {
    gw.log.error({ err: error, requestId: taggedRequestId(req) }, 'unexpected error on the request path');
    writeAnswer(res, errorAnswer(req, gw.runtime.theme, 'GH_INTERNAL', taggedRequestId(req)));
  };
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    // most requests are answered without a promise (front.ts); a bug is a 500 either way, never a crash
    try {
      handleRequest(gw, req, res, handler)?.catch((error: unknown) => unexpected(req, res, error));
    } catch (error) {
      unexpected(req, res, error);
    }
  };
  // observe.tracing set: each request runs inside its span (observe/tracing.ts); otherwise not even a check
  const tracing = gw.tracing;
  const onRequest = tracing ? (req: IncomingMessage, res: ServerResponse): void => tracing.serve(req, res, () => serve(req, res)) : serve;
  const server = tls
    ? (createHttpsServer({ ...options, cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, onRequest) as unknown as Server)
    : createHttpServer(options, onRequest);
  server.on('upgrade', (req: IncomingMessage, socket, head: Buffer) => {
    handleUpgrade(gw, req, socket, head).catch(() => socket.destroy());
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    // malformed requests (smuggling attempts, oversized headers) end here, answered by status, never forwarded
    if (!socket.writable) return socket.destroy();
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });
  return server;
}

export async function buildApp(gw: Gateway): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: gw.log as unknown as FastifyBaseLogger,
    // our own access and audit lines replace Fastify's per-request lines
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_FORM_BYTES,
    genReqId: (req) => taggedRequestId(req),
    serverFactory: (handler) => createServer(gw, handler),
    // while draining, a callback or sign-in on a kept-alive connection is answered (with Connection: close), not a bare 503
    return503OnClosing: false,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: MAX_FORM_BYTES }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(new GatehouseError('GH_BAD_REQUEST', 'body is not JSON'), undefined);
    }
  });
  // the bodies these routes read (back-channel logout, sign-in, sign-out forms) are bounded in size, and
  // in time too: limits.body_timeout plus 1 s per body_min_rate bytes announced, then 408 and a closed
  // connection, so that no anonymous client holds a connection here by sending its body slowly (or never)
  app.addHook('preParsing', (request, reply, payload, done) => {
    // only a body has this deadline: a bodiless request (a callback waiting for the provider) has its own
    const length = request.headers['content-length'];
    if (request.headers['transfer-encoding'] === undefined && (length === undefined || length === '0')) return done(null, payload);
    const limits = gw.runtime.limits;
    const declared = Math.min(Number(request.headers['content-length']) || 0, MAX_FORM_BYTES);
    const timer = setTimeout(
      () => {
        if (reply.raw.headersSent) return;
        reply.hijack();
        const requestId = taggedRequestId(request.raw);
        gw.log.warn({ code: 'GH_BODY_TIMEOUT', requestId, path: request.url.split('?')[0] }, 'request body too slow');
        writeAnswer(reply.raw, errorAnswer(request.raw, gw.runtime.theme, 'GH_BODY_TIMEOUT', requestId), { connection: 'close' });
      },
      limits.bodyTimeoutMs + (declared * 1000) / limits.bodyMinRate,
    );
    const stop = (): void => clearTimeout(timer);
    payload.once('end', stop);
    reply.raw.once('close', stop);
    done(null, payload);
  });
  app.setErrorHandler((error, request, reply) => {
    const requestId = taggedRequestId(request.raw);
    let gh: GatehouseError;
    if (isGatehouseError(error)) gh = error;
    else if (typeof (error as { statusCode?: number }).statusCode === 'number' && (error as { statusCode: number }).statusCode < 500)
      gh = new GatehouseError('GH_BAD_REQUEST', (error as Error).message);
    else gh = new GatehouseError('GH_INTERNAL', (error as Error).message, { cause: error });
    if (gh.status >= 500) gw.log.error({ code: gh.code, detail: gh.detail, requestId, err: gh.code === 'GH_INTERNAL' ? error : undefined }, 'request failed');
    else gw.log.info({ code: gh.code, detail: gh.detail, requestId }, 'request refused');
    // a refreshed session that may not be used yet still goes back to the browser (authenticate.ts)
    const extra = error instanceof RenewalUnavailableError && error.setCookies ? { headers: { 'set-cookie': error.setCookies } } : {};
    return sendAnswer(reply, errorAnswer(request.raw, gw.runtime.theme, gh, requestId, extra));
  });
  app.setNotFoundHandler((request, reply) => sendAnswer(reply, errorAnswer(request.raw, gw.runtime.theme, 'GH_NOT_FOUND', taggedRequestId(request.raw))));
  registerReservedRoutes(app, gw);
  return app;
}
