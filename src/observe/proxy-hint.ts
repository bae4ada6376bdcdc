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

export const UNTRUSTED_TERMINATOR_FIX =
  'trusted_proxies: [10.0.0.0/8]   # the address(es) or CIDR your TLS terminator connects from; or set listen.tls to terminate TLS here';

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

/** True the first time `peer` is seen for `owner` (a gateway) in `warned`: each warning is said once per peer, for at most MAX_REMEMBERED_PEERS peers. */
function firstTime(warned: WeakMap<object, Set<string>>, owner: object, peer: string): boolean {
  let peers = warned.get(owner);
  if (!peers) {
    peers = new Set();
    warned.set(owner, peers);
  }
  if (peers.has(peer) || peers.size >= MAX_REMEMBERED_PEERS) return false;
  peers.add(peer);
  return true;
}

/** The trusted_proxies entry that names exactly this peer. */
const cidrOf = (peer: string): string => (peer.includes(':') ? `${peer}/128` : `${peer}/32`);

const warnedPeers = new WeakMap<object, Set<string>>();

/**
 * Called only on the redirect-to-https branch: a plain-http request that an
 * untrusted peer marked as https. Logged once per peer and gateway.
 */
export function warnUntrustedTerminator(owner: object, log: Logger, peer: string, forwardedProto: string | string[] | undefined): void {
  if (typeof forwardedProto !== 'string' || !/^\s*https\b/i.test(forwardedProto)) return;
  if (!firstTime(warnedPeers, owner, peer)) return;
  const cidr = cidrOf(peer);
  log.warn(
    { peer, hint: `trusted_proxies: [${cidr}]` },
    `a plain-http request from ${peer} says X-Forwarded-Proto: https, but ${peer} is not in trusted_proxies, so it is redirected to https again. ` +
      `If ${peer} is your TLS terminator (load balancer, ingress), set trusted_proxies: [${cidr}] (or its subnet) and send SIGHUP.`,
  );
}

const warnedMisdirected = new WeakMap<object, Set<string>>();

/**
 * A forwarded request named a host other than public_url's (421). The usual
 * cause is the operator's own proxy rewriting Host (nginx's proxy_pass sends
 * the upstream's name unless told otherwise): say so once per peer, with the
 * fix, so a whole site of 421s is not a mystery.
 */
export function warnMisdirected(owner: object, log: Logger, peer: string, named: string, publicHost: string): void {
  if (!firstTime(warnedMisdirected, owner, peer)) return;
  const host = named.length > 100 ? `${named.slice(0, 100)}…` : named;
  log.warn(
    { peer, host, public_host: publicHost, hint: 'proxy_set_header Host $host;' },
    `a request from ${peer} names the host ${JSON.stringify(host)}, not public_url's ${publicHost}: it is refused with 421 (GH_MISDIRECTED_REQUEST), and so is every such request. ` +
      `If ${peer} is a proxy in front of Gatehouse, make it keep the browser's host (nginx: proxy_set_header Host $host;), or list it in trusted_proxies and have it send X-Forwarded-Host.`,
  );
}

const warnedAskers = new WeakMap<object, Set<string>>();

/**
 * A peer outside trusted_proxies asked /.gatehouse/auth (forward-auth): refused,
 * and said once per peer with the fix, since the usual cause is a proxy whose
 * address was not listed (or a client trying to name a request of its choosing).
 */
export function warnUntrustedAsker(owner: object, log: Logger, peer: string): void {
  if (!firstTime(warnedAskers, owner, peer)) return;
  const cidr = cidrOf(peer);
  log.warn(
    { peer, code: 'GH_FORWARD_AUTH_UNTRUSTED', hint: `trusted_proxies: [${cidr}]` },
    `${peer} asked /.gatehouse/auth but is not in trusted_proxies: refused with 403 (GH_FORWARD_AUTH_UNTRUSTED), and so is every such request. ` +
      `If ${peer} is the proxy in front of the helpdesk, set trusted_proxies: [${cidr}] (or its subnet) and send SIGHUP.`,
  );
}
