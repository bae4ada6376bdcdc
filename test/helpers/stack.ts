// The test stack: a real oidc-provider (src/demo/provider.ts), a recording
// upstream (test/helpers/upstream.ts) or the demo helpdesk, and the gateway,
// wired with the embedded demo config (src/demo/stack.ts demoYaml) so the tests
// run the same YAML loading and validation an operator's file goes through.
// Unlike startDemoStack it takes a clock and captures the gateway's log lines.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import { demoYaml, listeningSocket, portOf } from '../../src/demo/stack.js';
import { startDemoProvider, DEMO_ACCOUNTS, type DemoAccount, type DemoProvider } from '../../src/demo/provider.js';
import { startDemoHelpdesk, type DemoHelpdesk } from '../../src/demo/helpdesk.js';
import { parseConfigText } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { createLogger, type Logger } from '../../src/observe/log.js';
import type { Gateway } from '../../src/http/gateway.js';
import { startUpstream, type Upstream } from './upstream.js';
import { fetchWithJar, parseForms, signIn, type CookieJar, type FlowResult } from './browserless.js';

export const ALICE = { username: 'alice', password: 'alice-demo' } as const; // agent (helpdesk-agents)
export const BOB = { username: 'bob', password: 'bob-demo' } as const; // user (customers)
export const CAROL = { username: 'carol', password: 'carol-demo' } as const; // unverified email, example.org

/** Headers a browser sends on a top-level navigation. */
export const NAVIGATION = { accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' } as const;

/** Log lines captured in memory (JSON objects), so tests can assert what was and was not logged. */
export interface LogCapture {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** every captured line as text, for "this secret never appears" checks */
  text(): string;
}

export function captureLogger(level = 'info'): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        raw.push(line);
        try {
          lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not JSON: kept in raw only */
        }
      }
      done();
    },
  });
  return { logger: createLogger({ level, format: 'json', destination }), lines, text: () => raw.join('\n') };
}

/** Real time plus an offset a test can move forward: ID tokens stay valid at sign-in, sessions age on demand. */
export interface TestClock {
  now: () => number;
  advance(ms: number): void;
  /** back to real time (sign in again: the provider's ID tokens are stamped with real time) */
  reset(): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => void (offset += ms), reset: () => void (offset = 0) };
}

export interface TestStackOptions {
  /** change the embedded demo YAML before it is loaded */
  editYaml?: (yaml: string) => string;
  /** 'recording' (default): test/helpers/upstream.ts; 'helpdesk': the demo helpdesk (websocket hello <sub>) */
  upstream?: 'recording' | 'helpdesk';
  now?: () => number;
  accounts?: DemoAccount[];
  /** default false: the core tests do not exercise refresh */
  refreshTokens?: boolean;
  idTokenTtlSeconds?: number;
  /** default 'info' (captured, never printed) */
  logLevel?: string;
}

export interface TestStack {
  publicUrl: string;
  gateway: RunningGateway;
  gw: Gateway;
  provider: DemoProvider;
  /** set when upstream is 'recording' */
  upstream: Upstream;
  /** set when upstream is 'helpdesk' */
  helpdesk: DemoHelpdesk | null;
  upstreamUrl: string;
  config: GatewayConfig;
  logs: LogCapture;
  /** the session cookie name of a realm (loopback http: no __Host- prefix) */
  cookieName(realm: string): string;
  /** navigate to `path` and sign in as `account` (following every redirect) */
  signIn(path: string, account: { username: string; password: string }, jar?: CookieJar): Promise<FlowResult>;
  close(): Promise<void>;
}

/** The demo clients, registered for this gateway's URLs. */
function demoClients(publicUrl: string) {
  return [
    {
      client_id: 'demo-agent',
      client_secret: 'demo-agent-secret-0123456789abcdef',
      redirect_uris: [`${publicUrl}/agent/login/authenticate-callback/1`],
      post_logout_redirect_uris: [`${publicUrl}/agent`],
      grant_types: ['authorization_code', 'refresh_token'],
    },
    {
      client_id: 'demo-user',
      client_secret: 'demo-user-secret-0123456789abcdef',
      redirect_uris: [`${publicUrl}/login/authenticate-callback/2`],
      post_logout_redirect_uris: [`${publicUrl}/`],
      grant_types: ['authorization_code', 'refresh_token'],
    },
  ];
}

const CLOSED_UPSTREAM: Upstream = {
  url: '',
  port: 0,
  requests: [],
  arrivals: [],
  arrival: () => new Promise(() => {}),
  settled: async () => {},
  close: async () => {},
};

export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const listener = await listeningSocket();
  const publicUrl = `http://127.0.0.1:${portOf(listener)}`;
  const logs = captureLogger(options.logLevel ?? 'info');
  let provider: DemoProvider | undefined;
  let upstream = CLOSED_UPSTREAM;
  let helpdesk: DemoHelpdesk | null = null;
  try {
    provider = await startDemoProvider({
      port: 0,
      refreshTokens: options.refreshTokens ?? false,
      clients: demoClients(publicUrl),
      accounts: options.accounts ?? DEMO_ACCOUNTS,
      ...(options.idTokenTtlSeconds !== undefined ? { idTokenTtlSeconds: options.idTokenTtlSeconds } : {}),
    });
    if (options.upstream === 'helpdesk') helpdesk = await startDemoHelpdesk({ gatewayUrl: publicUrl });
    else upstream = await startUpstream();
    const upstreamUrl = helpdesk ? helpdesk.url : upstream.url;
    let yaml = demoYaml(publicUrl, provider.issuer, upstreamUrl);
    if (options.editYaml) yaml = options.editYaml(yaml);
    const env = { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url') };
    const { config } = parseConfigText(yaml, '(test config)', env);
    const gateway = await startGateway({ config, file: '(test config)', listener, logger: logs.logger, ...(options.now ? { now: options.now } : {}) });
    const started = provider;
    return {
      publicUrl,
      gateway,
      gw: gateway.gw,
      provider: started,
      upstream,
      helpdesk,
      upstreamUrl,
      config,
      logs,
      cookieName: (realm) => `${gateway.gw.runtime.cookiePrefix}gatehouse-${realm}`,
      signIn: (path, account, jar) => signIn(`${publicUrl}${path}`, account, jar ? { jar } : {}),
      async close() {
        await gateway.close();
        await Promise.allSettled([started.close(), upstream.close(), helpdesk?.close()]);
      },
    };
  } catch (error) {
    listener.close();
    await Promise.allSettled([provider?.close(), upstream.close(), helpdesk?.close()]);
    throw error;
  }
}

/** The JSON the recording upstream answered with (what it received). */
export function echoed(body: string): { method: string; url: string; headers: Record<string, string | string[]>; body: string } {
  return JSON.parse(body) as { method: string; url: string; headers: Record<string, string | string[]>; body: string };
}

/** Every value of a Set-Cookie header as a list. */
export function setCookies(headers: Record<string, string | string[]>): string[] {
  const value = headers['set-cookie'];
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export interface RawResponse {
  status: number;
  /** lower-cased names; repeated headers joined by ", " except set-cookie (a list) */
  headers: Record<string, string | string[]>;
  body: string;
}

/**
 * One HTTP/1.1 request written byte for byte on a fresh socket: the path is sent
 * as given (no URL normalization by a client library) and headers keep their
 * case, order and duplicates.
 */
export function rawRequest(baseUrl: string, method: string, path: string, headers: Array<[string, string]> = []): Promise<RawResponse> {
  const { hostname, port, host } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${method} ${path}`)));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return reject(new Error(`incomplete answer to ${method} ${path}: ${JSON.stringify(text.slice(0, 200))}`));
      const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
      const out: Record<string, string | string[]> = {};
      for (const line of lines) {
        const i = line.indexOf(':');
        const name = line.slice(0, i).trim().toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === 'set-cookie') out[name] = [...((out[name] as string[] | undefined) ?? []), value];
        else out[name] = out[name] === undefined ? value : `${out[name] as string}, ${value}`;
      }
      let body = text.slice(end + 4);
      if (/chunked/i.test(String(out['transfer-encoding'] ?? ''))) body = unchunk(body);
      resolve({ status: Number(statusLine.split(' ')[1]), headers: out, body: Buffer.from(body, 'latin1').toString('utf8') });
    });
    const hasHost = headers.some(([name]) => name.toLowerCase() === 'host');
    const head = [`${method} ${path} HTTP/1.1`, ...(hasHost ? [] : [`Host: ${host}`]), ...headers.map(([n, v]) => `${n}: ${v}`), 'Connection: close'];
    socket.write(`${head.join('\r\n')}\r\n\r\n`);
  });
}

function unchunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol < 0) return out;
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/**
 * Drive a sign-in at the provider only: follow `authorizeUrl`, fill the login
 * form, and stop at the redirect back to the gateway — returning the callback
 * URL without calling it, so a test decides when (and how often) it is used.
 */
export async function authorizeUntilCallback(authorizeUrl: string, jar: CookieJar, account: { username: string; password: string }, gatewayUrl: string): Promise<string> {
  let url = authorizeUrl;
  let loggedIn = false;
  for (let step = 0; step < 12; step++) {
    const res = await fetchWithJar(url, { jar, headers: { ...NAVIGATION } });
    const location = res.headers.location;
    if (typeof location === 'string') {
      const next = new URL(location, url).href;
      if (next.startsWith(gatewayUrl)) return next;
      url = next;
      continue;
    }
    const login = parseForms(res.body, res.url).find((f) => f.fields.some((x) => x.name === 'password'));
    if (!login || loggedIn) throw new Error(`stuck at ${res.url} (${res.status})`);
    loggedIn = true;
    const posted = await fetchWithJar(login.action, {
      jar,
      method: 'POST',
      body: new URLSearchParams({ username: account.username, password: account.password }).toString(),
      headers: { ...NAVIGATION, 'content-type': 'application/x-www-form-urlencoded', origin: new URL(login.action).origin },
    });
    const after = posted.headers.location;
    if (typeof after !== 'string') throw new Error(`login refused at ${login.action} (${posted.status})`);
    url = new URL(after, login.action).href;
    if (url.startsWith(gatewayUrl)) return url;
  }
  throw new Error('too many steps before the callback');
}
