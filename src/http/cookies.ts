/**
 * Reading the Cookie header and writing Set-Cookie for Gatehouse's own cookies.
 * Every cookie the gateway sets has the same attributes: HttpOnly, SameSite=Lax,
 * Path=/, and Secure with the __Host- prefix whenever public_url is https (a
 * __Host- cookie cannot be set by a sibling subdomain: no cookie tossing).
 * Our values are base64url and dots, so nothing is encoded or decoded.
 */
import type { IncomingHttpHeaders } from 'node:http';

export type CookieJar = Readonly<Record<string, string | undefined>>;

const EMPTY: CookieJar = Object.freeze({});
/** a browser sends at most a few KB per cookie; more cookies than this in one header is not a browser */
const MAX_COOKIES = 100;

/** RFC 6265 5.4 order: the first cookie of a name wins (the most specific path). */
export function readCookies(headers: IncomingHttpHeaders): CookieJar {
  const header = headers.cookie;
  if (!header) return EMPTY;
  const jar: Record<string, string> = Object.create(null) as Record<string, string>;
  let count = 0;
  for (const part of header.split(';')) {
    if (++count > MAX_COOKIES) break;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name.length === 0 || name in jar) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    jar[name] = value;
  }
  return jar;
}

export interface CookieOptions {
  secure: boolean;
  /** seconds; 0 deletes */
  maxAge?: number | undefined;
}

export function setCookie(name: string, value: string, options: CookieOptions): string {
  let line = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax`;
  if (options.secure) line += '; Secure';
  if (options.maxAge !== undefined) line += `; Max-Age=${Math.max(0, Math.floor(options.maxAge))}`;
  return line;
}

export function clearCookie(name: string, secure: boolean): string {
  return `${setCookie(name, '', { secure, maxAge: 0 })}; Expires=Thu, 01 Jan 1970 00:00:00 GMT`;
}
