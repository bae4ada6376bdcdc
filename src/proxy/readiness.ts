/**
 * readyz's look at the helpdesk: can this instance open a connection to
 * upstream.url (TCP, and the TLS handshake for https) within
 * READINESS_LIMIT_MS? On a connection of its own, never one of the forwarding
 * pool: a saturated pool or a slow helpdesk would otherwise make readiness
 * wait behind every queued request. A slow helpdesk is not "unready" — every
 * instance would say the same, and taking them all out of the load balancer
 * helps nobody; requests get their 504 instead. A helpdesk that refuses,
 * resets or does not accept connections is.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

export const READINESS_LIMIT_MS = 2000;

export function helpdeskAcceptsConnections(target: URL, limitMs = READINESS_LIMIT_MS): Promise<boolean> {
  return new Promise((resolve) => {
    const https = target.protocol === 'https:';
    const port = Number(target.port || (https ? 443 : 80));
    const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
    let socket: Socket;
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), limitMs);
    if (https) socket = tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, ALPNProtocols: ['http/1.1'] }, () => done(true));
    else socket = tcpConnect({ host, port }, () => done(true));
    socket.on('error', () => done(false));
  });
}
