/**
 * Who the client is and how it reached us. X-Forwarded-For/-Proto/-Host are
 * believed only when the TCP peer is in trusted_proxies; otherwise the socket
 * is the truth, and inbound forwarding headers are dropped before forwarding.
 */
import type { IncomingMessage } from 'node:http';
import type { BlockList } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface ClientView {
  /** the client's address as far as we can trust it */
  ip: string;
  /** the TCP peer */
  peer: string;
  proto: 'http' | 'https';
  host: string;
  /** the peer is a trusted proxy */
  trusted: boolean;
  /** X-Forwarded-For to send upstream */
  forwardedFor: string;
}

function stripV4Mapped(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function isTrusted(list: BlockList | null, address: string): boolean {
  if (!list || !address) return false;
  try {
    return list.check(address, address.includes(':') ? 'ipv6' : 'ipv4');
  } catch {
    return false;
  }
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function clientView(req: IncomingMessage, trustedProxies: BlockList | null): ClientView {
  const peer = stripV4Mapped(req.socket.remoteAddress ?? '');
  const socketProto = req.socket instanceof TLSSocket ? 'https' : 'http';
  const host = req.headers.host ?? '';
  if (!isTrusted(trustedProxies, peer)) {
    return { ip: peer, peer, proto: socketProto, host, trusted: false, forwardedFor: peer };
  }
  const inboundFor = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(inboundFor) ? inboundFor.join(',') : (inboundFor ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  // the client is the right-most address that is not one of our trusted proxies
  let ip = peer;
  for (let i = chain.length - 1; i >= 0; i--) {
    const candidate = stripV4Mapped(chain[i]!);
    ip = candidate;
    if (!isTrusted(trustedProxies, candidate)) break;
  }
  const xfProto = firstHeader(req.headers['x-forwarded-proto'])?.split(',')[0]?.trim().toLowerCase();
  const xfHost = firstHeader(req.headers['x-forwarded-host'])?.split(',')[0]?.trim();
  return {
    ip,
    peer,
    proto: xfProto === 'https' || xfProto === 'http' ? xfProto : socketProto,
    host: xfHost && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(xfHost) ? xfHost : host,
    trusted: true,
    forwardedFor: [...chain, peer].join(', '),
  };
}
