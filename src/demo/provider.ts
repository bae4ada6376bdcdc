// The demo OpenID Provider: a real oidc-provider (v9) on loopback, with its own
// small sign-in page and fixed test accounts. Used by `gatehouse demo` and by
// end-to-end tests; never meant to face the internet.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';

export interface DemoAccount {
  username: string;
  password: string;
  sub: string;
  email: string;
  email_verified: boolean;
  name: string;
  groups: string[];
}
export interface DemoClient {
  client_id: string;
  client_secret?: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  jwks?: { keys: object[] };
  grant_types?: string[];
}
export interface DemoProviderOptions {
  port?: number; // 0 = ephemeral
  host?: string; // default 127.0.0.1
  clients: DemoClient[];
  accounts?: DemoAccount[];
  idTokenTtlSeconds?: number;
  accessTokenTtlSeconds?: number;
  refreshTokens?: boolean; // issue refresh tokens (offline_access not required)
  rotateRefreshTokens?: boolean; // every refresh consumes the token and issues a new one; reusing a consumed one revokes the grant
  signingAlg?: 'RS256' | 'ES256' | 'EdDSA';
  onError?: (err: unknown, where: string) => void; // default: errors are swallowed (the demo stays quiet)
}
export interface DemoProvider {
  issuer: string;
  port: number;
  provider: any; // the oidc-provider instance
  accounts: DemoAccount[];
  rotateSigningKey(): Promise<void>; // new kid first in JWKS, old kept for verification
  close(): Promise<void>;
}

export const DEMO_ACCOUNTS: DemoAccount[] = [
  {
    username: 'alice',
    password: 'alice-demo',
    sub: 'user-alice',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Agent',
    groups: ['helpdesk-agents'],
  },
  { username: 'bob', password: 'bob-demo', sub: 'user-bob', email: 'bob@example.com', email_verified: true, name: 'Bob Customer', groups: ['customers'] },
  // For allow-rule tests: a customer whose address is unverified and outside example.com.
  {
    username: 'carol',
    password: 'carol-demo',
    sub: 'user-carol',
    email: 'carol@example.org',
    email_verified: false,
    name: 'Carol Unverified',
    groups: ['customers'],
  },
];

const SCOPE_CLAIMS = {
  openid: ['sub'],
  profile: ['name', 'preferred_username'],
  email: ['email', 'email_verified'],
  groups: ['groups'],
};

async function generateSigningJwk(alg: 'RS256' | 'ES256' | 'EdDSA'): Promise<Record<string, unknown>> {
  const { privateKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: `demo-${randomUUID()}`, alg, use: 'sig' };
}

// oidc-provider has no public API to change keys on a running instance; its own
// keystore initialiser (same module instance the Provider uses) swaps both the
// signing keystore and the published JWKS in place, so listeners and state survive.
async function replaceKeystore(provider: unknown, keys: object[]): Promise<void> {
  const spec: string = 'oidc-provider/lib/helpers/initialize_keystore.js';
  const mod = (await import(spec)) as { default: (this: unknown, jwks: { keys: object[] }) => void };
  mod.default.call(provider, { keys });
}

// oidc-provider prints start-up notices (in-memory adapter, Node 20 "unsupported
// runtime") with console.warn/info; the demo is meant to use exactly those, so
// its lines are dropped while it is loaded and constructed.
let quietDepth = 0;
const loud = { warn: console.warn, info: console.info };
async function quietly<T>(fn: () => T | Promise<T>): Promise<T> {
  if (quietDepth++ === 0) {
    const drop =
      (orig: (...a: unknown[]) => void) =>
      (...args: unknown[]) => {
        if (typeof args[0] === 'string' && args[0].startsWith('oidc-provider ')) return;
        orig.apply(console, args);
      };
    Object.assign(loud, { warn: console.warn, info: console.info });
    console.warn = drop(loud.warn);
    console.info = drop(loud.info);
  }
  try {
    return await fn();
  } finally {
    if (--quietDepth === 0) Object.assign(console, loud);
  }
}

async function loadProviderClass(): Promise<new (issuer: string, configuration: object) => any> {
  const spec: string = 'oidc-provider'; // untyped package: a non-literal specifier keeps tsc from demanding declarations
  const mod = (await import(spec)) as { Provider: new (issuer: string, configuration: object) => any };
  return mod.Provider;
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

function checkPassword(account: DemoAccount | undefined, password: string): boolean {
  // Always compare something, so an unknown user costs the same as a wrong password.
  const ok = timingSafeEqual(sha256(account?.password ?? randomUUID()), sha256(password));
  return ok && account !== undefined;
}

function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE_STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1d1d1f}' +
  'label{display:block;margin-top:.8rem;font-weight:600}input{font:inherit;width:100%;box-sizing:border-box;padding:.4rem}' +
  'button{font:inherit;margin-top:1rem;padding:.5rem 1rem}button:focus,input:focus{outline:3px solid #2a6df4}' +
  '.error{color:#a40000;font-weight:600}.hint{color:#555;font-size:.9rem}';

function page(title: string, body: string, head = ''): string {
  return (
    `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${esc(title)}</title><style>${PAGE_STYLE}</style>${head}</head><body><main>${body}</main></body></html>`
  );
}

function loginPage(uid: string, clientId: string, accounts: DemoAccount[], error?: string, username = ''): string {
  const action = `/interaction/${encodeURIComponent(uid)}/login`;
  const hint = accounts
    .map((a) => `<li><code>${esc(a.username)}</code> / <code>${esc(a.password)}</code> (${esc(a.groups.join(', ') || 'no groups')})</li>`)
    .join('');
  return page(
    'Sign in — Gatehouse demo provider',
    `<h1>Sign in</h1>
<p>to <strong>${esc(clientId)}</strong> at the Gatehouse demo provider</p>
${error ? `<p class="error" role="alert" id="login-error">${esc(error)}</p>` : ''}
<form method="post" action="${esc(action)}" id="login-form">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" required autofocus value="${esc(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<form method="post" action="/interaction/${esc(encodeURIComponent(uid))}/abort"><button type="submit">Cancel</button></form>
<p class="hint">Demo accounts:</p><ul class="hint">${hint}</ul>`,
  );
}

async function readForm(req: IncomingMessage, limitBytes = 16 * 1024): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw Object.assign(new Error('form too large'), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  res.end(html);
}

export async function startDemoProvider(opts: DemoProviderOptions): Promise<DemoProvider> {
  const host = opts.host ?? '127.0.0.1';
  const accounts = opts.accounts ?? DEMO_ACCOUNTS;
  const signingAlg = opts.signingAlg ?? 'RS256';
  const refreshTokens = opts.refreshTokens ?? false;
  const onError = opts.onError ?? (() => {});
  let signingKeys: object[] = [await generateSigningJwk(signingAlg)];

  let handleProvider: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  let provider: any;
  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      onError(err, 'interaction');
      if (!res.headersSent)
        send(res, (err as { status?: number }).status ?? 500, page('Error', '<h1>Something went wrong</h1><p>Start the sign-in again.</p>'));
      else res.destroy();
    });
  });
  server.on('clientError', (_err, socket) => socket.destroy());

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const m = /^\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(url.pathname);
    if (!m || !handleProvider) return handleProvider ? handleProvider(req, res) : send(res, 503, 'starting');
    const [, uid = '', action] = m;
    let details: any;
    try {
      details = await provider.interactionDetails(req, res);
    } catch (err) {
      onError(err, 'interactionDetails');
      return send(res, 400, page('Sign-in expired', '<h1>This sign-in attempt has expired</h1><p>Go back to the application and start again.</p>'));
    }
    if (details.uid !== uid) return send(res, 400, page('Sign-in mismatch', '<h1>This sign-in attempt does not match</h1>'));
    const clientId = String(details.params.client_id ?? '');

    if (action === 'abort' && req.method === 'POST') {
      return provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User aborted interaction' },
        { mergeWithLastSubmission: false },
      );
    }
    if (details.prompt.name === 'consent') {
      // Never shown: consent is granted for whatever the client asked (loadExistingGrant
      // below normally makes this prompt unnecessary; this is the belt to those braces).
      const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: details.session.accountId, clientId });
      const missing = details.prompt.details;
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      return provider.interactionFinished(req, res, { consent: { grantId: await grant.save() } }, { mergeWithLastSubmission: true });
    }
    if (details.prompt.name !== 'login') return send(res, 501, page('Unsupported', `<h1>Unsupported prompt ${esc(details.prompt.name)}</h1>`));

    if (action === 'login' && req.method === 'POST') {
      const form = await readForm(req);
      const username = form.get('username') ?? '';
      const account = accounts.find((a) => a.username === username);
      if (!checkPassword(account, form.get('password') ?? '') || !account) {
        return send(res, 401, loginPage(uid, clientId, accounts, 'Wrong username or password.', username));
      }
      return provider.interactionFinished(req, res, { login: { accountId: account.sub } }, { mergeWithLastSubmission: false });
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, page('Method not allowed', '<h1>Method not allowed</h1>'));
    return send(res, 200, loginPage(uid, clientId, accounts));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  const ttl = (n: number) => () => n;
  const configuration = {
    clients: opts.clients.map((c) => ({
      response_types: ['code'],
      grant_types: c.grant_types ?? (refreshTokens ? ['authorization_code', 'refresh_token'] : ['authorization_code']),
      id_token_signed_response_alg: signingAlg,
      ...Object.fromEntries(Object.entries(c).filter(([, v]) => v !== undefined)),
      ...(c.backchannel_logout_uri ? { backchannel_logout_session_required: true } : {}),
    })),
    jwks: { keys: signingKeys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: { ...SCOPE_CLAIMS, sid: null, acr: null, auth_time: null, iss: null },
    scopes: ['openid', 'offline_access', ...Object.keys(SCOPE_CLAIMS).filter((s) => s !== 'openid')],
    conformIdTokenClaims: false, // scope claims go into the ID token, not only userinfo
    responseTypes: ['code'],
    pkce: { required: () => true }, // v9 supports S256 only
    clientBasedCORS: () => false,
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
      claimsParameter: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    },
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    // refreshTokens: for every client allowed the refresh_token grant; otherwise
    // oidc-provider's rule (offline_access, which it only keeps with prompt=consent).
    issueRefreshToken: async (_ctx: unknown, client: any, code: any) =>
      client.grantTypeAllowed('refresh_token') && (refreshTokens || code.scopes.has('offline_access')),
    // rotation as Auth0, Okta or Keycloak do it when enabled (oidc-provider's default rotates late in the token's life only)
    ...(opts.rotateRefreshTokens ? { rotateRefreshToken: true } : {}),
    // Grant every requested scope/claim at once: the demo has no consent screen.
    loadExistingGrant: async (ctx: any) => {
      const { client, account, session } = ctx.oidc;
      const grantId = ctx.oidc.result?.consent?.grantId || session.grantIdFor(client.clientId);
      let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
      if (!grant || grant.accountId !== account.accountId) grant = new ctx.oidc.provider.Grant({ accountId: account.accountId, clientId: client.clientId });
      const scope = [...ctx.oidc.requestParamOIDCScopes].join(' ');
      if (scope) grant.addOIDCScope(scope);
      const claims = [...ctx.oidc.requestParamClaims];
      if (claims.length) grant.addOIDCClaims(claims);
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx: unknown, sub: string) => {
      const account = accounts.find((a) => a.sub === sub);
      if (!account) return undefined;
      return {
        accountId: account.sub,
        claims: async () => ({
          sub: account.sub,
          email: account.email,
          email_verified: account.email_verified,
          name: account.name,
          preferred_username: account.username,
          groups: [...account.groups],
        }),
      };
    },
    renderError: async (ctx: any, out: Record<string, string>) => {
      ctx.type = 'html';
      ctx.body = page(
        'Sign-in error',
        `<h1>Sign-in error</h1>${Object.entries(out)
          .map(([k, v]) => `<p><strong>${esc(k)}</strong>: <span id="${esc(k)}">${esc(v)}</span></p>`)
          .join('')}`,
      );
    },
    // The back-channel logout POST goes to a loopback RP; oidc-provider's default
    // fetch refuses special-use addresses (SSRF guard), 127.0.0.1 included.
    fetch: (url: string, init: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _ssrfGuard, ...rest } = init;
      return globalThis.fetch(url, rest);
    },
    ttl: {
      AccessToken: ttl(opts.accessTokenTtlSeconds ?? 3600),
      IdToken: ttl(opts.idTokenTtlSeconds ?? 3600),
      AuthorizationCode: ttl(60),
      RefreshToken: ttl(14 * 24 * 3600),
      Interaction: ttl(3600),
      Session: ttl(24 * 3600),
      Grant: ttl(14 * 24 * 3600),
      ClientCredentials: ttl(600),
      DeviceCode: ttl(600),
      BackchannelAuthenticationRequest: ttl(600),
      PreAuthorizedCode: ttl(600),
    },
  };

  try {
    provider = await quietly(async () => new (await loadProviderClass())(issuer, configuration));
  } catch (err) {
    await closeServer(server);
    throw err;
  }
  // oidc-provider puts `sid` in ID tokens only for clients with
  // backchannel_logout_session_required; the demo always includes it (OIDC
  // Back-Channel Logout 1.0 §2.1 lets an RP match a logout token by sid).
  provider.Client.prototype.includeSid = () => true;
  // Koa logs every error to stderr unless someone listens; oidc-provider reports
  // its own through these events.
  provider.on('error', (err: unknown) => onError(err, 'koa'));
  for (const ev of ['server_error', 'backchannel.error']) provider.on(ev, (_ctx: unknown, err: unknown) => onError(err, ev));
  handleProvider = provider.callback();

  return {
    issuer,
    port,
    provider,
    accounts,
    async rotateSigningKey() {
      signingKeys = [await generateSigningJwk(signingAlg), ...signingKeys];
      await replaceKeystore(provider, signingKeys);
    },
    close: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

// RP-initiated logout. oidc-provider's default page puts the buttons outside the
// <form> (form="op.logoutForm") and asks "are you sure". Ours keeps a plain form
// with a single submit button, so a test driver can submit it, and confirms by
// itself in a real browser when the RP proved who it is with an id_token_hint.
async function logoutSource(ctx: any, form: string): Promise<void> {
  const hinted = Boolean(ctx.oidc.entities?.IdTokenHint);
  const client = ctx.oidc.client?.clientId as string | undefined;
  const inner = form.replace('</form>', '<input type="hidden" name="logout" value="yes"><button type="submit" autofocus>Sign out</button></form>');
  const script = hinted ? '<script>document.addEventListener("DOMContentLoaded",function(){document.forms[0].submit()})</script>' : '';
  ctx.type = 'html';
  ctx.body = page(
    'Sign out — Gatehouse demo provider',
    `<h1>Sign out</h1><p>Sign out of the demo provider${client ? ` and ${esc(client)}` : ''}?</p>${inner}`,
    script,
  );
}

async function postLogoutSuccessSource(ctx: any): Promise<void> {
  ctx.type = 'html';
  ctx.body = page('Signed out', '<h1>Signed out</h1><p id="signed-out">You have been signed out of the demo provider.</p>');
}
