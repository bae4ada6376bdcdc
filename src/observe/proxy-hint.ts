/**
 * The redirect loop operators of other gateways know too well: public_url is
 * https, TLS ends at a load balancer that forwards plain http, and the
 * gateway — rightly — does not believe X-Forwarded-Proto from a peer that is
 * not in trusted_proxies, so it redirects to https forever. Gatehouse says
 * exactly what to set: at start (from the config) and, once per peer, when such
 * a request arrives (with the peer's address).
 */
import type { GatewayConfig } from '../config/types.js';
import type { Logger } from './log.js';

export const UNTRUSTED_TERMINATOR_FIX = 'trusted_proxies: [10.0.0.0/8]   # the address(es) or CIDR your TLS terminator connects from; or set listen.tls to terminate TLS here';

/** The start-up warning, or null when the config cannot loop (TLS here, or proxies trusted, or plain http). */
export function untrustedTerminatorHint(config: Pick<GatewayConfig, 'public_url' | 'listen' | 'trusted_proxies'>): string | null {
  if (!config.public_url.startsWith('https:') || config.listen.tls || config.trusted_proxies.length > 0) return null;
  return (
    'public_url is https but listen.tls is not set and trusted_proxies is empty. If a load balancer or ingress terminates TLS and forwards plain http, ' +
    'Gatehouse cannot believe its X-Forwarded-Proto: https and redirects every request to https (a redirect loop). ' +
    'The first such request logs the proxy address to add.'
  );
}

const MAX_REMEMBERED_PEERS = 256;
const warnedPeers = new WeakMap<object, Set<string>>();

/**
 * Called only on the redirect-to-https branch: a plain-http request that an
 * untrusted peer marked as https. Logged once per peer and gateway.
 */
export function warnUntrustedTerminator(owner: object, log: Logger, peer: string, forwardedProto: string | string[] | undefined): void {
  if (typeof forwardedProto !== 'string' || !/^\s*https\b/i.test(forwardedProto)) return;
  let peers = warnedPeers.get(owner);
  if (!peers) warnedPeers.set(owner, (peers = new Set()));
  if (peers.has(peer) || peers.size >= MAX_REMEMBERED_PEERS) return;
  peers.add(peer);
  const cidr = peer.includes(':') ? `${peer}/128` : `${peer}/32`;
  log.warn(
    { peer, hint: `trusted_proxies: [${cidr}]` },
    `a plain-http request from ${peer} says X-Forwarded-Proto: https, but ${peer} is not in trusted_proxies, so it is redirected to https again. ` +
      `If ${peer} is your TLS terminator (load balancer, ingress), set trusted_proxies: [${cidr}] (or its subnet) and send SIGHUP.`,
  );
}
