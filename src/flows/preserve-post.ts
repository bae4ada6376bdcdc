/**
 * No lost work: a person whose session ended while a form was open, and who
 * then sends it, keeps what they typed (as mod_auth_openidc's OIDCPreservePost
 * does). The gateway answers the form POST with a small page that puts the
 * fields into the tab's sessionStorage and goes to sign in; sign-in returns to
 * /.gatehouse/resume-post, whose page takes the fields back out and posts them,
 * once, to where they were going — now with a session — and leaves only a
 * "resumed" mark behind (the loop guard). Nothing of the form is kept on the
 * server or in a cookie.
 *
 * Only a same-origin browser form POST (Sec-Fetch-Site / Origin) is preserved:
 * a cross-site form must never be re-posted with the new session — that would
 * undo SameSite=Lax's CSRF protection. Only
 * application/x-www-form-urlencoded up to 64 KB is preserved; any other form
 * (file uploads) gets a page that says so, with a way to sign in again. Scripts
 * (fetch/XHR) keep getting 401 JSON with X-Gatehouse-Login, whose rd is the page
 * the script runs on (its same-origin Referer), not the API it called.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Gateway } from '../gateway.js';
import type { RealmRuntime } from '../runtime.js';
import { loginUrl, safeReturnTo } from '../routing/return-to.js';
import { fromThisSite } from './logout.js';
import { errorAnswer, htmlAnswer, sendAnswer, type Answer, type RequestHead } from '../edge/respond.js';
import { contentSecurityPolicy, escapeHtml, type PageTheme } from '../edge/pages/layout.js';

export const RESUME_PATH = '/.gatehouse/resume-post';
export const MAX_PRESERVED_BYTES = 64 * 1024;
/** how long a kept form waits for the sign-in to come back (the login attempt's life) */
const PRESERVED_FOR_MS = 10 * 60_000;
const STORAGE_KEY = 'gatehouse.preserved-post';

/** A form a person submitted in the browser (not fetch/XHR): POST, navigating. */
export function isBrowserFormPost(req: RequestHead): boolean {
  if (req.method !== 'POST' || req.headers['x-requested-with'] !== undefined) return false;
  const mode = req.headers['sec-fetch-mode'];
  if (mode !== undefined) return mode === 'navigate';
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.includes('text/html');
}

/**
 * Where to come back to after signing in again, for a request that is not a
 * navigation: the same-origin page it came from (Referer), else `fallback`.
 * Returning to an API path or a form's action would show JSON or a 405.
 */
export function recoveryReturnTo(req: RequestHead, publicOrigin: string, fallback: string): string {
  const referer = req.headers.referer;
  if (typeof referer !== 'string' || !referer.startsWith(`${publicOrigin}/`)) return fallback;
  const path = safeReturnTo(referer, publicOrigin, new Set(), '');
  return path === '' || path.startsWith('/.gatehouse/') ? fallback : path;
}

/** JSON that is safe inside <script type="application/json">. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The body, or null when it is larger than we keep or too slow: the forwarding rules' deadline
 * (limits.body_timeout plus 1 s per body_min_rate bytes), else an anonymous client could hold
 * this read for ever. Stops reading without destroying the socket, so the answer still arrives.
 */
function readFormBody(req: IncomingMessage, limits: { bodyTimeoutMs: number; bodyMinRate: number }): Promise<string | null> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_PRESERVED_BYTES) return Promise.resolve(null);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const startedAt = performance.now();
    const onDeadline = (): void => {
      const allowedUntil = startedAt + limits.bodyTimeoutMs + (size * 1000) / limits.bodyMinRate;
      const now = performance.now();
      if (now < allowedUntil) timer = setTimeout(onDeadline, allowedUntil - now);
      else {
        req.pause(); // the answer says connection: close
        finish(null);
      }
    };
    let timer = setTimeout(onDeadline, limits.bodyTimeoutMs);
    const finish = (value: string | null): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError);
      resolve(value);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_PRESERVED_BYTES) {
        req.pause(); // the answer says connection: close
        finish(null);
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = (): void => finish(Buffer.concat(chunks).toString('utf8'));
    const onError = (): void => finish(null);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

function page(theme: PageTheme, heading: string, body: string, nonce: string, script: string, referrer: 'no-referrer' | 'same-origin'): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="${referrer}"><title>${escapeHtml(heading)} · ${escapeHtml(theme.title)}</title><style>${theme.style}</style></head><body><main><h1>${escapeHtml(heading)}</h1>${body}</main><script nonce="${nonce}">${script}</script></body></html>`;
}

function pageCsp(theme: PageTheme, nonce: string): string {
  return `${contentSecurityPolicy(theme)}; script-src 'nonce-${nonce}'`;
}

const KEEP_SCRIPT = `(function(){var K=${JSON.stringify(STORAGE_KEY)},d=JSON.parse(document.getElementById("gh-form").textContent);
function show(){document.getElementById("gh-kept").hidden=false;document.getElementById("gh-wait").hidden=true}
try{var p=JSON.parse(sessionStorage.getItem(K)||"null");
if(p&&p.action===d.action&&p.resumedAt&&Date.now()-p.resumedAt<60000){show();return}
sessionStorage.setItem(K,JSON.stringify({action:d.action,back:d.back,fields:d.fields,savedAt:Date.now()}))}catch(e){show();return}
location.replace(d.login)})();`;

const RESUME_SCRIPT = `(function(){var K=${JSON.stringify(STORAGE_KEY)},r=JSON.parse(document.getElementById("gh-resume").textContent),d=null;
try{d=JSON.parse(sessionStorage.getItem(K)||"null")}catch(e){}
if(d&&d.action===r.rd&&!d.resumedAt&&Date.now()-d.savedAt<${PRESERVED_FOR_MS}){try{sessionStorage.setItem(K,JSON.stringify({action:d.action,resumedAt:Date.now()}))}catch(e){}
var f=document.createElement("form");f.method="post";f.action=r.rd;
for(var i=0;i<d.fields.length;i++){var x=document.createElement("input");x.type="hidden";x.name=d.fields[i][0];x.value=d.fields[i][1];f.appendChild(x)}
document.body.appendChild(f);f.submit()}else{try{if(d&&!d.resumedAt)sessionStorage.removeItem(K)}catch(e){}location.replace(r.back||r.rd)}})();`;

/**
 * A signed-out request that is a browser form POST: the page that keeps the
 * form and goes to sign in, or a page that says it could not be kept.
 * null for anything else (the caller answers 401 JSON as usual).
 */
export async function answerSignedOutFormPost(
  gw: Gateway,
  req: IncomingMessage,
  realm: RealmRuntime,
  returnTo: string,
  requestId: string,
  clearCookies: string[] | null,
): Promise<Answer | null> {
  const runtime = gw.runtime;
  if (!isBrowserFormPost(req) || !fromThisSite(req, runtime.publicOrigin)) return null;
  const back = recoveryReturnTo(req, runtime.publicOrigin, '');
  const headers: Record<string, string | string[]> = { 'x-request-id': requestId };
  if (clearCookies) headers['set-cookie'] = clearCookies;
  const contentType = String(req.headers['content-type'] ?? '')
    .split(';')[0]!
    .trim()
    .toLowerCase();
  const body = contentType === 'application/x-www-form-urlencoded' ? await readFormBody(req, runtime.limits) : null;
  if (body === null) {
    const login = loginUrl(realm, back || realm.paths[0] || '/');
    gw.log.info({ realm: realm.name, requestId, contentType: contentType.slice(0, 60) }, 'form POST after the session ended could not be kept');
    return errorAnswer(req, runtime.theme, 'GH_FORM_NOT_PRESERVED', requestId, {
      retryHref: login,
      headers: { ...headers, 'x-gatehouse-login': login, connection: 'close' },
    });
  }
  const fields = [...new URLSearchParams(body)];
  const resume = `${RESUME_PATH}?rd=${encodeURIComponent(returnTo)}${back ? `&back=${encodeURIComponent(back)}` : ''}`;
  const login = loginUrl(realm, resume);
  const nonce = randomBytes(16).toString('base64');
  const kept = fields
    .map(([name, value]) => `<p><label>${escapeHtml(name)}<br><textarea readonly rows="3" cols="40">${escapeHtml(value)}</textarea></label></p>`)
    .join('');
  const html = page(
    runtime.theme,
    'Signing you in again',
    `<p id="gh-wait">Your session ended. What you typed is kept in this tab while you sign in again; it is sent as soon as you are back.</p>` +
      `<noscript><p>JavaScript is off, so the form cannot be kept. Go back, copy what you typed, then <a href="${escapeHtml(loginUrl(realm, back || realm.paths[0] || '/'))}">sign in again</a>.</p></noscript>` +
      `<div id="gh-kept" hidden><p>Signing in again did not work, so your form was not sent. Copy what you typed, then <a href="${escapeHtml(login)}">sign in again</a>.</p>${kept}</div>` +
      `<script type="application/json" id="gh-form">${scriptJson({ action: returnTo, back, login, fields })}</script>`,
    nonce,
    KEEP_SCRIPT,
    'no-referrer',
  );
  gw.log.info({ realm: realm.name, requestId, fields: fields.length }, 'form POST after the session ended: kept in the browser across sign-in');
  return htmlAnswer(200, html, pageCsp(runtime.theme, nonce), { ...headers, 'x-gatehouse-login': login });
}

type Query = Record<string, string | string[] | undefined>;

/** GET /.gatehouse/resume-post?rd=<form action>&back=<page>: re-post the kept form, once. */
export function registerResumeRoute(app: FastifyInstance, gw: Gateway): void {
  app.get(RESUME_PATH, async (request: FastifyRequest, reply) => {
    const runtime = gw.runtime;
    const query = request.query as Query;
    // same-origin paths only: a kept form is never sent to another site
    const rd = safeReturnTo(query.rd, runtime.publicOrigin, new Set(), '/');
    const back = safeReturnTo(query.back, runtime.publicOrigin, new Set(), '');
    const nonce = randomBytes(16).toString('base64');
    const html = page(
      runtime.theme,
      'Sending your form',
      `<p>Sending what you typed…</p><noscript><p><a href="${escapeHtml(back || rd)}">Continue</a></p></noscript><script type="application/json" id="gh-resume">${scriptJson({ rd, back })}</script>`,
      nonce,
      RESUME_SCRIPT,
      // the re-posted form carries a same-origin Referer, as the original did (CSRF checks upstream)
      'same-origin',
    );
    const answer = htmlAnswer(200, html, pageCsp(runtime.theme, nonce), { 'referrer-policy': 'same-origin' });
    return sendAnswer(reply, answer);
  });
}
