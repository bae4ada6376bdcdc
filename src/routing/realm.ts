/**
 * Which realm a request belongs to. The path is normalized first (dot segments,
 * doubled slashes, needlessly encoded characters) so that /Agent, /x/../agent or
 * /%61gent cannot reach the agent area under another realm's rules; prefixes
 * match case-insensitively for the same reason. The realm must be chosen from
 * the path the helpdesk will parse: targets a helpdesk reads as another path
 * (a fragment, `;parameters` that move the path) are refused in front.ts with
 * the checks below. The table is built once per config load; a lookup is a
 * short scan of prefixes sorted longest first.
 */

const PLAIN_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 3986 6.2.2 normalization. Returns null for paths that cannot be served
 * safely: encoded slash, backslash or NUL (helpdesks decode these differently
 * from us), control characters, or malformed percent-encoding.
 */
export function normalizePath(rawPath: string): string | null {
  if (PLAIN_PATH.test(rawPath) && !rawPath.includes('//') && !rawPath.includes('/.')) return rawPath;
  if (!rawPath.startsWith('/')) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a path with a control character or a space is refused, so the class names them
  if (/[\\\u0000-\u0020\u007f]/.test(rawPath)) return null;
  let decoded = '';
  for (let i = 0; i < rawPath.length; i++) {
    const ch = rawPath[i]!;
    if (ch !== '%') {
      decoded += ch;
      continue;
    }
    const hex = rawPath.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
    const code = parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c || code < 0x20 || code === 0x7f) return null;
    const char = String.fromCharCode(code);
    decoded += UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
    i += 2;
  }
  // RFC 3986 5.2.4 remove_dot_segments, with empty segments collapsed
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '..') {
      out.pop();
      if (last) out.push('');
    } else if (segment === '.' || (segment === '' && !last)) {
      if (last) out.push('');
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

/**
 * A `#` never belongs in a request target: browsers keep the fragment to
 * themselves, and helpdesks cut the path there (nginx's $uri, WHATWG URL, PHP's
 * parse_url), so /agent#x is /agent to them while no prefix match here sees
 * /agent in it. Refused anywhere in the target, query included.
 */
export function hasFragment(target: string): boolean {
  return target.includes('#');
}

/** Does a normalized path carry `;` (raw, or as the `%3B` normalizePath keeps)? */
export function hasPathParameters(path: string): boolean {
  return path.includes(';') || path.includes('%3B');
}

/**
 * A normalized path as a helpdesk that cuts `;parameters` from every segment
 * reads it: servlet containers (Tomcat, Jetty), Spring and others, so that
 * /agent;x/t is /agent/t to them and /x/..;/agent is /agent. `%3B` is cut too:
 * nginx decodes it to `;` in $uri and passes that on, and some frameworks
 * decode before they cut.
 */
export function withoutPathParameters(path: string): string {
  const cut = path
    .split('/')
    .map((segment) => {
      const at = segment.search(/;|%3B/i);
      return at < 0 ? segment : segment.slice(0, at);
    })
    .join('/');
  // what is left can hold new dot or empty segments ("..;" became ".."): resolve them as the helpdesk does
  return normalizePath(cut) ?? cut;
}

/** Does `path` fall under `prefix` (both lower-cased)? "/agent" owns /agent and /agent/x, not /agents. */
export function underPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  return path.length === prefix.length || prefix.endsWith('/') || path.charCodeAt(prefix.length) === 47; /* "/" */
}

export class RealmTable<R> {
  private readonly entries: Array<{ prefix: string; realm: R }>;

  constructor(realms: ReadonlyArray<{ paths: readonly string[]; realm: R }>) {
    this.entries = realms
      .flatMap(({ paths, realm }) => paths.map((p) => ({ prefix: (p.length > 1 ? p.replace(/\/+$/, '') : p).toLowerCase(), realm })))
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** The realm owning a normalized path (longest prefix wins), or null when none does. */
  match(normalizedPath: string): R | null {
    const lower = normalizedPath.toLowerCase();
    for (const entry of this.entries) if (underPrefix(lower, entry.prefix)) return entry.realm;
    return null;
  }
}

/** public_paths globs into one anchored expression: `*` within a segment, `**` across. */
export function compilePublicPaths(globs: readonly string[]): RegExp | null {
  if (globs.length === 0) return null;
  const parts = globs.map((glob) =>
    glob
      .split('**')
      .map((piece) =>
        piece
          .split('*')
          .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('[^/]*'),
      )
      .join('.*'),
  );
  return new RegExp(`^(?:${parts.join('|')})$`);
}
