/**
 * The one host name Gatehouse serves: public_url's. Helpdesks build absolute
 * links (password-reset mails, redirects) from Host or X-Forwarded-Host, so a
 * request naming another host is never forwarded (421 in front.ts), and what
 * the helpdesk receives as the host is always public_url's.
 */
import type { Runtime } from '../runtime.js';

interface PublicHost {
  /** public_url's host as URL spells it: lower case, the scheme's default port left out */
  readonly host: string;
  readonly defaultPort: string;
}
const hosts = new WeakMap<Runtime, PublicHost>();

function publicHostOf(runtime: Runtime): PublicHost {
  let known = hosts.get(runtime);
  if (known === undefined) {
    const url = new URL(runtime.publicOrigin);
    known = { host: url.host, defaultPort: url.protocol === 'https:' ? ':443' : ':80' };
    hosts.set(runtime, known);
  }
  return known;
}

/** What the helpdesk receives as the host (X-Forwarded-Host, and Host with preserve_host). */
export function publicHost(runtime: Runtime): string {
  return publicHostOf(runtime).host;
}

/**
 * The host a request names (its Host, or a trusted proxy's X-Forwarded-Host) is
 * public_url's, in any spelling a client may use: upper case, a trailing dot,
 * the scheme's default port written out.
 */
export function isPublicHost(runtime: Runtime, named: string): boolean {
  const expected = publicHostOf(runtime);
  if (named === expected.host) return true;
  let host = named.toLowerCase();
  if (host.endsWith(expected.defaultPort)) host = host.slice(0, -expected.defaultPort.length);
  const colon = host.lastIndexOf(':');
  const name = colon > host.lastIndexOf(']') ? host.slice(0, colon) : host;
  if (name.endsWith('.')) host = name.slice(0, -1) + host.slice(name.length);
  return host === expected.host;
}
