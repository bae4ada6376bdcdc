// A browser without a browser, for the bench: cookies per origin and path,
// redirects followed, the demo provider's login form filled once. Every
// sign-in the bench measures with goes through the real provider this way,
// for Gatehouse and for mod_auth_openidc alike.
import { request } from 'undici';

export class Jar {
  constructor() {
    /** @type {{origin:string,name:string,value:string,path:string}[]} */
    this.cookies = [];
  }

  store(url, setCookie) {
    if (setCookie === undefined) return;
    const u = new URL(url);
    for (const line of Array.isArray(setCookie) ? setCookie : [setCookie]) {
      const [pair = '', ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      if (eq < 1) continue;
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = '/';
      let deleted = false;
      for (const attr of attrs) {
        const [k = '', v = ''] = attr.split('=').map((s) => s.trim());
        const key = k.toLowerCase();
        if (key === 'path' && v.startsWith('/')) path = v;
        if (key === 'max-age' && Number(v) <= 0) deleted = true;
        if (key === 'expires' && Date.parse(v) <= Date.now()) deleted = true;
      }
      this.cookies = this.cookies.filter((c) => !(c.origin === u.origin && c.name === name && c.path === path));
      if (!deleted) this.cookies.push({ origin: u.origin, name, value, path });
    }
  }

  header(url) {
    const u = new URL(url);
    const matching = this.cookies
      .filter((c) => c.origin === u.origin && (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** A copy holding only the cookies of `origin` (e.g. the provider's session, shared by many attempts). */
  only(origin) {
    const jar = new Jar();
    jar.cookies = this.cookies.filter((c) => c.origin === origin).map((c) => ({ ...c }));
    return jar;
  }
}

const NAVIGATION = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

export async function send(url, { jar, method = 'GET', headers = {}, body } = {}) {
  const h = { ...headers };
  const cookie = jar?.header(url);
  if (cookie) h.cookie = cookie;
  const res = await request(url, { method, headers: h, ...(body === undefined ? {} : { body }) });
  const text = await res.body.text();
  jar?.store(url, res.headers['set-cookie']);
  return { status: res.statusCode, url, headers: res.headers, body: text };
}

/** Follow redirects from `url` while `stop(nextUrl)` is false; returns the last response and the URL it would go to next. */
export async function follow(url, { jar, method = 'GET', headers = NAVIGATION, body, stop = () => false, max = 20 } = {}) {
  let current = url;
  for (let hop = 0; hop < max; hop++) {
    const res = await send(current, { jar, method, headers, body });
    const location = res.headers.location;
    if (res.status < 300 || res.status > 399 || typeof location !== 'string') return { res, next: null };
    const next = new URL(location, current).href;
    if (stop(next)) return { res, next };
    current = next;
    method = 'GET';
    body = undefined;
    headers = NAVIGATION;
  }
  throw new Error(`too many redirects from ${url}`);
}

function loginForm(html, pageUrl) {
  const m = /<form[^>]*method="post"[^>]*action="([^"]+)"[^>]*id="login-form"/i.exec(html);
  return m ? new URL(m[1].replace(/&amp;/g, '&'), pageUrl).href : null;
}

/**
 * Navigate to `startUrl` and sign in as `account` at the demo provider. With
 * `stopAtCallback`, stop before the callback URL is requested and return it
 * (the sign-in benchmark replays those callbacks under load).
 */
export async function signIn(startUrl, account, { jar = new Jar(), stopAtCallback } = {}) {
  const stop = stopAtCallback ?? (() => false);
  let { res, next } = await follow(startUrl, { jar, stop });
  if (next) return { jar, res, callbackUrl: next };
  const action = loginForm(res.body, res.url);
  if (action) {
    const origin = new URL(res.url).origin;
    ({ res, next } = await follow(action, {
      jar,
      method: 'POST',
      headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded', origin, referer: res.url },
      body: new URLSearchParams({ username: account.username, password: account.password }).toString(),
      stop,
    }));
  }
  return { jar, res, callbackUrl: next };
}
