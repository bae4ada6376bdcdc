/**
 * The id every log line, error page and forwarded request of one request
 * carries: an inbound X-Request-Id is kept when it is well-formed (so a
 * proxy's trace joins up), otherwise a new one is made — once per request,
 * however many modules ask.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const idPrefix = randomBytes(4).toString('hex');
let idCounter = 0;

/** A valid inbound X-Request-Id is kept (so traces join up); otherwise a new one. */
export function requestIdOf(req: IncomingMessage): string {
  const inbound = req.headers['x-request-id'];
  if (typeof inbound === 'string' && REQUEST_ID.test(inbound)) return inbound;
  idCounter = (idCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${idPrefix}-${idCounter.toString(36)}`;
}

export const REQUEST_ID_KEY = Symbol('gatehouse.requestId');
type Tagged = IncomingMessage & { [REQUEST_ID_KEY]?: string };

export function taggedRequestId(req: IncomingMessage): string {
  const tagged = req as Tagged;
  tagged[REQUEST_ID_KEY] ??= requestIdOf(req);
  return tagged[REQUEST_ID_KEY];
}
