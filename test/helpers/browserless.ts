// A browser without a browser: cookies per host:port, redirects, and the forms a
// person would fill or click through during sign-in and sign-out. Real sockets
// (undici), so cookies, Location headers and Host behave as on the wire.
import { request } from 'undici';

export interface StoredCookie {
  name: string;
  value: string;
  origin: string;
  path: string;
  expiresAt?: number;
}
export interface BrowserResponse {
  status: number;
  url: string;
  headers: Record<string, string | string[]>;
  body: string;
}
export interface FetchWithJarOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  jar?: CookieJar;
  followRedirects?: boolean;
  maxRedirects?: number; // default 20
}
export interface FetchWithJarResult extends BrowserResponse {
  jar: CookieJar;
  hops: string[];
}

/**
 * Cookies scoped to scheme://host:port (stricter than a browser, which ignores the
 * port — here the gateway and the provider share 127.0.0.1). Path is honoured,
 * Max-Age / Expires delete, Domain is treated as host-only, Secure and SameSite
 * are ignored (loopback http), `__Host-` names are kept as they are.
 */
export class CookieJar {
  private cookies: StoredCookie[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  /** Store the Set-Cookie header(s) of a response to `url`. */
  setFromResponse(url: string | URL, setCookie: string | string[] | undefined): void {
    if (setCookie === undefined) return;
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) this.setCookie(url, line);
  }

  /** Store one Set-Cookie line (RFC 6265 §5.2, minus Domain). */
  setCookie(url: string | URL, line: string): void {
    const u = new URL(url);
    const [pair = '', ...attrs] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq < 1) return;
    const name = pair.slice(0, eq).trim();
    const value = pair
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1');
    let path = defaultPath(u.pathname);
    let expiresAt: number | undefined;
    let maxAgeSeen = false;
    for (const attr of attrs) {
      const i = attr.indexOf('=');
      const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? '' : attr.slice(i + 1).trim();
      if (key === 'path' && val.startsWith('/')) path = val;
      else if (key === 'max-age' && /^-?\d+$/.test(val)) {
        maxAgeSeen = true;
        expiresAt = this.now() + Number(val) * 1000;
      } else if (key === 'expires' && !maxAgeSeen) {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) expiresAt = t;
      }
    }
    const origin = u.origin;
    this.cookies = this.cookies.filter((c) => !(c.origin === origin && c.name === name && c.path === path));
    if (expiresAt !== undefined && expiresAt <= this.now()) return; // a deletion
    this.cookies.push({ name, value, origin, path, ...(expiresAt === undefined ? {} : { expiresAt }) });
  }

  /** The Cookie header a browser would send to `url`, or undefined when none. */
  cookieHeader(url: string | URL): string | undefined {
    const matching = this.matching(url);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** The value of cookie `name` that would be sent to `url`. */
  get(url: string | URL, name: string): string | undefined {
    return this.matching(url).find((c) => c.name === name)?.value;
  }

  /** Every live cookie, optionally only those of one origin. */
  all(origin?: string): StoredCookie[] {
    this.expire();
    return this.cookies.filter((c) => origin === undefined || c.origin === new URL(origin).origin).map((c) => ({ ...c }));
  }

  delete(url: string | URL, name: string): void {
    const origin = new URL(url).origin;
    this.cookies = this.cookies.filter((c) => !(c.origin === origin && c.name === name));
  }

  clear(): void {
    this.cookies = [];
  }

  private expire(): void {
    const now = this.now();
    this.cookies = this.cookies.filter((c) => c.expiresAt === undefined || c.expiresAt > now);
  }

  private matching(url: string | URL): StoredCookie[] {
    this.expire();
    const u = new URL(url);
    // RFC 6265 §5.4: longer paths first.
    return this.cookies.filter((c) => c.origin === u.origin && pathMatches(u.pathname, c.path)).sort((a, b) => b.path.length - a.path.length);
  }
}

function defaultPath(pathname: string): string {
  const i = pathname.lastIndexOf('/');
  return i <= 0 ? '/' : pathname.slice(0, i);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith('/') || requestPath[cookiePath.length] === '/';
}

/** One request with the jar's cookies; optionally follows redirects the way a browser does. */
export async function fetchWithJar(url: string, opts: FetchWithJarOptions = {}): Promise<FetchWithJarResult> {
  const jar = opts.jar ?? new CookieJar();
  const max = opts.maxRedirects ?? 20;
  const hops: string[] = [];
  let method = (opts.method ?? 'GET').toUpperCase();
  let body = opts.body;
  let headers = { ...(opts.headers ?? {}) };
  let current = url;
  for (;;) {
    hops.push(current);
    const res = await sendOnce(current, method, headers, body, jar);
    const location = res.headers.location;
    if (!opts.followRedirects || !isRedirect(res.status) || typeof location !== 'string') return { ...res, jar, hops };
    if (hops.length > max) throw new Error(`more than ${max} redirects: ${hops.join(' -> ')}`);
    current = new URL(location, current).href;
    if (res.status !== 307 && res.status !== 308) {
      // Fetch spec: 301/302/303 after POST (and 303 always) become a GET without a body.
      method = method === 'HEAD' ? 'HEAD' : 'GET';
      body = undefined;
      headers = withoutHeaders(headers, ['content-type', 'content-length', 'origin']);
    }
  }
}

async function sendOnce(url: string, method: string, headers: Record<string, string>, body: string | undefined, jar: CookieJar): Promise<BrowserResponse> {
  const h: Record<string, string> = { ...withoutHeaders(headers, ['cookie']) };
  const cookie = jar.cookieHeader(url);
  const extra = Object.entries(headers).find(([k]) => k.toLowerCase() === 'cookie')?.[1];
  if (cookie || extra) h.cookie = [cookie, extra].filter(Boolean).join('; ');
  const res = await request(url, { method: method as 'GET', headers: h, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) out[k] = v;
  jar.setFromResponse(url, out['set-cookie']);
  return { status: res.statusCode, url, headers: out, body: text };
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

function withoutHeaders(headers: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k.toLowerCase())));
}

// ---- forms ---------------------------------------------------------------------

export interface HtmlForm {
  id?: string;
  method: string;
  action: string;
  fields: { name: string; type: string; value: string }[];
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };
function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?/g;
  const inner = tag.replace(/^<\s*[a-z]+/i, '').replace(/\/?>$/, '');
  for (let m = re.exec(inner); m; m = re.exec(inner)) {
    attrs[m[1]!.toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return attrs;
}

/** The forms of a page, with their inputs and submit buttons (also those linked by form="id"). */
export function parseForms(html: string, pageUrl: string): HtmlForm[] {
  const forms: HtmlForm[] = [];
  const controls = (chunk: string) => [...chunk.matchAll(/<(?:input|button)\b[^>]*>/gi)].map((m) => ({ tag: m[0], attrs: attributes(m[0]) }));
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[0].slice(0, m[0].indexOf('>') + 1));
    const inside = controls(m[1] ?? '');
    const linked = attrs.id ? controls(html).filter((c) => c.attrs.form === attrs.id && !inside.some((i) => i.tag === c.tag)) : [];
    const fields = [...inside, ...linked].map(({ tag, attrs: a }) => ({
      name: a.name ?? '',
      type: (a.type ?? (/^<button/i.test(tag) ? 'submit' : 'text')).toLowerCase(),
      value: a.value ?? '',
    }));
    forms.push({
      ...(attrs.id ? { id: attrs.id } : {}),
      method: (attrs.method ?? 'get').toUpperCase(),
      action: new URL(attrs.action || pageUrl, pageUrl).href,
      fields,
    });
  }
  return forms;
}

function isLoginForm(form: HtmlForm): boolean {
  return form.fields.some((f) => f.name === 'username') && form.fields.some((f) => f.name === 'password' && f.type === 'password');
}

/** A form a person would just click through: hidden fields only (form_post, logout confirmation, sign-in button). */
function isClickThroughForm(form: HtmlForm): boolean {
  const data = form.fields.filter((f) => f.type !== 'submit' && f.type !== 'button' && f.type !== 'reset');
  return data.length > 0 && data.every((f) => f.type === 'hidden');
}

/** Submit `form` as a browser does: named fields, plus the first named submit button (the one a person clicks). */
export async function submitForm(
  form: HtmlForm,
  values: Record<string, string>,
  opts: { jar: CookieJar; pageUrl: string; headers?: Record<string, string> },
): Promise<FetchWithJarResult> {
  const params = new URLSearchParams();
  let clicked = false;
  for (const f of form.fields) {
    if (f.type === 'submit') {
      if (!clicked && f.name) params.append(f.name, f.value);
      clicked = true;
      continue;
    }
    if (!f.name || f.type === 'button' || f.type === 'reset') continue;
    params.append(f.name, values[f.name] ?? f.value);
  }
  const nav = navigationHeaders(opts.headers);
  if (form.method === 'GET') {
    const target = new URL(form.action);
    target.search = params.toString();
    return fetchWithJar(target.href, { jar: opts.jar, headers: nav, followRedirects: true });
  }
  const pageOrigin = new URL(opts.pageUrl).origin;
  const sameOrigin = pageOrigin === new URL(form.action).origin;
  return fetchWithJar(form.action, {
    method: 'POST',
    jar: opts.jar,
    followRedirects: true,
    body: params.toString(),
    headers: {
      ...nav,
      'content-type': 'application/x-www-form-urlencoded',
      origin: pageOrigin,
      referer: sameOrigin ? opts.pageUrl : `${pageOrigin}/`, // strict-origin-when-cross-origin
      'sec-fetch-site': sameOrigin ? 'same-origin' : 'same-site',
    },
  });
}

/** Headers a browser sends on a top-level navigation. */
export const NAVIGATION = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } as const;

function navigationHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { ...NAVIGATION, ...extra };
}

export interface FlowResult {
  jar: CookieJar;
  final: BrowserResponse;
  hops: string[];
}

/**
 * Keep acting like a person on `start`: fill the provider's login form with
 * `account` (once — a second login form means the password was refused),
 * click through hidden-field-only forms (not on error pages), and stop on any other page.
 */
async function continueFlow(
  start: FetchWithJarResult,
  jar: CookieJar,
  account: { username: string; password: string } | undefined,
  headers: Record<string, string> | undefined,
): Promise<FlowResult> {
  const hops = [...start.hops];
  let res: BrowserResponse = start;
  let loggedIn = false;
  for (let step = 0; step < 10; step++) {
    const html = String(res.headers['content-type'] ?? '').includes('html') ? res.body : '';
    const forms = parseForms(html, res.url);
    const login = forms.find(isLoginForm);
    let next: FetchWithJarResult;
    if (login && account && !loggedIn) {
      loggedIn = true;
      next = await submitForm(login, { username: account.username, password: account.password }, { jar, pageUrl: res.url, ...(headers ? { headers } : {}) });
    } else if (!login && res.status < 400 && forms.length === 1 && isClickThroughForm(forms[0]!)) {
      // (a form on an error page, such as "use another account" on a refusal, is a choice, not a click-through)
      next = await submitForm(forms[0]!, {}, { jar, pageUrl: res.url, ...(headers ? { headers } : {}) });
    } else {
      break;
    }
    hops.push(...next.hops);
    res = next;
  }
  const { status, url, headers: h, body } = res;
  return { jar, final: { status, url, headers: h, body }, hops };
}

/** Navigate to `startUrl` and sign in as `account` wherever the provider asks. */
export async function signIn(
  startUrl: string,
  account: { username: string; password: string },
  opts: { jar?: CookieJar; headers?: Record<string, string> } = {},
): Promise<FlowResult> {
  const jar = opts.jar ?? new CookieJar();
  const first = await fetchWithJar(startUrl, { jar, headers: navigationHeaders(opts.headers), followRedirects: true });
  return continueFlow(first, jar, account, opts.headers);
}

/**
 * Sign out: POST (default) or GET `logoutUrl` as a navigation, then click
 * through the provider's logout confirmation and any form_post pages.
 */
export async function signOut(logoutUrl: string, opts: { jar: CookieJar; method?: 'GET' | 'POST'; headers?: Record<string, string> }): Promise<FlowResult> {
  const method = opts.method ?? 'POST';
  const origin = new URL(logoutUrl).origin;
  const first = await fetchWithJar(logoutUrl, {
    jar: opts.jar,
    method,
    followRedirects: true,
    headers:
      method === 'POST'
        ? {
            ...navigationHeaders(opts.headers),
            'content-type': 'application/x-www-form-urlencoded',
            origin,
            referer: `${origin}/`,
            'sec-fetch-site': 'same-origin',
          }
        : navigationHeaders(opts.headers),
    ...(method === 'POST' ? { body: '' } : {}),
  });
  return continueFlow(first, opts.jar, undefined, opts.headers);
}
