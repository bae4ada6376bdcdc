/**
 * The frame of every page a person sees from the gateway: small, accessible,
 * themable through `pages:` in the config, no external assets, and a strict
 * Content-Security-Policy (the one stylesheet is allowed by its hash; no script).
 */
import { createHash } from 'node:crypto';
import type { GatewayConfig } from '../../config/types.js';

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export interface PageTheme {
  /** what the pages call this site: pages.title, or else the public host (a person knows that name) */
  title: string;
  /** pages.title was set: the sign-in page is headed with it instead of "Sign in" */
  titled: boolean;
  logoUrl?: string | undefined;
  style: string;
  styleHash: string;
}

export function buildTheme(pages: GatewayConfig['pages'], host: string): PageTheme {
  const style = [
    `:root{--accent:${pages.accent_color};--bg:${pages.background_color};--fg:${pages.text_color}}`,
    'body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}',
    'main{max-width:28rem;margin:12vh auto;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 2px 16px rgba(0,0,0,.08)}',
    'h1{font-size:1.35rem;margin:0 0 1rem}',
    'p{margin:.5rem 0 1rem}',
    'img.logo{max-height:48px;max-width:100%;margin-bottom:1rem}',
    'button{font:inherit;font-weight:600;color:#fff;background:var(--accent);border:0;border-radius:8px;padding:.7rem 1.2rem;cursor:pointer;width:100%}',
    'button:focus-visible,a:focus-visible{outline:3px solid var(--fg);outline-offset:2px}',
    'a{color:var(--accent)}',
    'a.button{display:block;text-align:center;text-decoration:none;font-weight:600;color:#fff;background:var(--accent);border-radius:8px;padding:.7rem 1.2rem}',
    'form+form,form+p{margin-top:1rem}',
    '.meta{font-size:.8rem;opacity:.75;margin-top:1.5rem}',
    'code{font-size:.85em}',
  ].join('');
  return {
    title: pages.title ?? host,
    titled: pages.title !== undefined,
    logoUrl: pages.logo_url,
    style,
    styleHash: createHash('sha256').update(style).digest('base64'),
  };
}

/** The one image source a page may load: the configured logo (a path is on this site). */
function logoSource(logoUrl: string | undefined): string | null {
  if (!logoUrl) return null;
  return logoUrl.startsWith('/') ? "'self'" : new URL(logoUrl).origin;
}

export function contentSecurityPolicy(theme: PageTheme, formTargets: readonly string[] = []): string {
  const source = logoSource(theme.logoUrl);
  const img = source ? ` img-src ${source};` : '';
  const forms = ["'self'", ...formTargets].join(' ');
  return `default-src 'none'; style-src 'sha256-${theme.styleHash}';${img} form-action ${forms}; base-uri 'none'; frame-ancestors 'none'`;
}

/**
 * One page. `requestId` only on error pages (it is what support asks for);
 * `documentTitle` when the tab should read differently from the heading.
 */
export function renderPage(theme: PageTheme, heading: string, body: string, requestId?: string, documentTitle = heading): string {
  const logo = theme.logoUrl ? `<img class="logo" src="${escapeHtml(theme.logoUrl)}" alt="${escapeHtml(theme.title)}">` : '';
  const meta = requestId ? `<p class="meta">Request ID: <code>${escapeHtml(requestId)}</code></p>` : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta name="referrer" content="no-referrer"><meta name="robots" content="noindex"><title>${escapeHtml(documentTitle)} · ${escapeHtml(theme.title)}</title><style>${theme.style}</style></head><body><main>${logo}<h1>${escapeHtml(heading)}</h1>${body}${meta}</main></body></html>`;
}

/** Headers every gateway page carries. */
export function pageHeaders(csp: string): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': csp,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  };
}
