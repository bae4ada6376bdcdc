/**
 * Where a browser may be sent after sign-in or sign-out: a path on this gateway,
 * or an origin listed in allowed_redirects. Everything else — //evil, /\evil,
 * https:evil, encoded or control-character variants — falls back to a safe default.
 */

export const MAX_RETURN_TO_LENGTH = 2048;

/**
 * A same-origin URL as the path a Location header carries. Dot segments can
 * resolve to a path that starts with "//" ("/.//evil.com", "https://us//evil.com"),
 * which a browser reads as protocol-relative, i.e. another origin.
 */
function samePageOf(url: URL, fallback: string): string {
  const path = `${url.pathname}${url.search}${url.hash}`;
  return path.startsWith('//') ? fallback : path;
}

export function safeReturnTo(raw: unknown, publicOrigin: string, allowedOrigins: ReadonlySet<string>, fallback: string): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > MAX_RETURN_TO_LENGTH) return fallback;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return fallback;
  }
  for (const form of [raw, decoded]) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: a return-to with a control character is refused, so the class names them
    if (/[\\\u0000-\u001f\u007f]/.test(form)) return fallback;
  }
  if (raw.startsWith('/')) {
    if (raw.startsWith('//') || decoded.startsWith('//')) return fallback;
    let url: URL;
    try {
      url = new URL(raw, publicOrigin);
    } catch {
      return fallback;
    }
    return url.origin === publicOrigin ? samePageOf(url, fallback) : fallback;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fallback;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fallback;
  if (url.username || url.password) return fallback;
  // a string that is not in canonical URL form (https:evil.com, https:/evil.com) is refused outright
  if (!raw.toLowerCase().startsWith(`${url.protocol}//`)) return fallback;
  if (url.origin === publicOrigin) return samePageOf(url, fallback);
  return allowedOrigins.has(url.origin) ? url.href : fallback;
}

/** The gateway's sign-in start for a realm, coming back to `returnTo` (a GET: a person may follow it, reload it, bookmark it). */
export function loginUrl(realm: { readonly name: string }, returnTo: string): string {
  return `/.gatehouse/login?realm=${encodeURIComponent(realm.name)}&rd=${encodeURIComponent(returnTo)}`;
}
