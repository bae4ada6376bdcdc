/**
 * The access log (log.access: true): one JSON line per forwarded request, written
 * when the response is done. Only the path is logged, never the query string
 * (it may carry a token or personal data), and never a header.
 * Callers check the flag first, so a gateway with the access log off pays nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './log.js';

export interface AccessFacts {
  requestId: string;
  /** the realm's name, or "-" for a public path */
  realm: string;
  /** normalized path, possibly with the query (cut here) */
  path: string;
  ip: string;
}

/** nginx's convention for "the client closed the connection before the answer" */
const CLIENT_CLOSED = 499;

export function logAccess(log: Logger, req: IncomingMessage, res: ServerResponse, facts: AccessFacts, startedMs: number): void {
  const q = facts.path.indexOf('?');
  log.info(
    {
      access: true,
      requestId: facts.requestId,
      realm: facts.realm,
      method: req.method,
      path: q < 0 ? facts.path : facts.path.slice(0, q),
      status: res.headersSent ? res.statusCode : CLIENT_CLOSED,
      ...(res.writableFinished ? {} : { aborted: true }),
      durationMs: Math.round((performance.now() - startedMs) * 10) / 10,
      ip: facts.ip,
    },
    'request',
  );
}
