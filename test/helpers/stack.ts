// The test stack: a real oidc-provider (src/demo/provider.ts), a recording
// upstream (test/helpers/upstream.ts) or the demo helpdesk, and the gateway,
// wired with the embedded demo config (src/demo/stack.ts demoYaml) so the tests
// run the same YAML loading and validation an operator's file goes through.
// Built by the same startStack as the demo; unlike startDemoStack it records what
// reaches the upstream and captures the gateway's log lines.
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { connect } from 'node:net';
import { demoClients, demoYaml, serveGateway, startStack } from '../../src/demo/stack.js';
import { startDemoProvider, DEMO_ACCOUNTS, type DemoAccount, type DemoProvider } from '../../src/demo/provider.js';
import { startDemoHelpdesk, type DemoHelpdesk } from '../../src/demo/helpdesk.js';
import type { GatewayConfig } from '../../src/config/types.js';
import type { RunningGateway } from '../../src/server.js';
import { createLogger, type Logger } from '../../src/observe/log.js';
import type { Gateway } from '../../src/gateway.js';
import type { TracingExportOptions } from '../../src/observe/tracing.js';
import { startUpstream, type Upstream } from './upstream.js';
import { fetchWithJar, NAVIGATION, parseForms, signIn, type CookieJar, type FlowResult } from './browserless.js';

export const ALICE = { username: 'alice', password: 'alice-demo' } as const; // agent (helpdesk-agents)
export const BOB = { username: 'bob', password: 'bob-demo' } as const; // user (customers)
export const CAROL = { username: 'carol', password: 'carol-demo' } as const; // unverified email, example.org

export { NAVIGATION };

/** Log lines captured in memory (JSON objects), so tests can assert what was and was not logged. */
export interface LogCapture {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  /** every line written, as text (JSON or not) */
  raw: string[];
  /** every captured line as text, for "this secret never appears" checks */
  text(): string;
}

/**
 * A logger whose lines are kept in memory. `into`: add them to an existing capture (several gateways
 * in one place); `tag`: fields added to each parsed line (which instance wrote it).
 */
export function captureLogger(level = 'info', options: { into?: LogCapture; tag?: Record<string, unknown> } = {}): LogCapture {
  const lines = options.into?.lines ?? [];
  const raw = options.into?.raw ?? [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        raw.push(line);
        try {
          lines.push({ ...(JSON.parse(line) as Record<string, unknown>), ...options.tag });
        } catch {
          /* not JSON: kept in raw only */
        }
      }
      done();
    },
  });
  return { logger: createLogger({ level, format: 'json', destination }), lines, raw, text: () => raw.join('\n') };
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
  return {
    now: () => Date.now() + offset,
    advance: (ms) => {
      offset += ms;
    },
    reset: () => {
      offset = 0;
    },
  };
}

export interface TestStackOptions {
  /** change the embedded demo YAML before it is loaded */
  editYaml?: (yaml: string) => string;
  /** 'recording' (default): test/helpers/upstream.ts; 'helpdesk': the demo helpdesk (websocket hello <sub>) */
  upstream?: 'recording' | 'helpdesk';
  /** a helpdesk the test started itself (a real nginx: test/helpers/nginx-helpdesk.ts); overrides `upstream` */
  upstreamUrl?: string;
  now?: () => number;
  accounts?: DemoAccount[];
  /** default false: the core tests do not exercise refresh */
  refreshTokens?: boolean;
  idTokenTtlSeconds?: number;
  /** default 'info' (captured, never printed) */
  logLevel?: string;
  /**
   * default false: the provider does not call the gateway's back-channel logout when someone signs out
   * there, so the sign-out tests see exactly what RP-initiated logout does (test/sessions/backchannel*
   * covers back-channel logout)
   */
  backchannelLogout?: boolean;
  /** how the gateway exports spans when the YAML sets observe.tracing (a short batch delay for tests) */
  tracingExport?: TracingExportOptions;
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
  const logs = captureLogger(options.logLevel ?? 'info');
  const stack = await startStack({
    file: '(test config)',
    provider: (publicUrl) =>
      startDemoProvider({
        port: 0,
        refreshTokens: options.refreshTokens ?? false,
        clients: demoClients(publicUrl, { backchannelLogout: options.backchannelLogout ?? false }),
        accounts: options.accounts ?? DEMO_ACCOUNTS,
        ...(options.idTokenTtlSeconds !== undefined ? { idTokenTtlSeconds: options.idTokenTtlSeconds } : {}),
      }),
    upstream: (publicUrl) => startTestUpstream(options.upstreamUrl ?? options.upstream ?? 'recording', publicUrl),
    yaml: (publicUrl, provider, upstream) => {
      const yaml = demoYaml(publicUrl, provider.issuer, upstream.url);
      return options.editYaml ? options.editYaml(yaml) : yaml;
    },
    env: { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url') },
    serve: serveGateway({
      logger: logs.logger,
      ...(options.now ? { now: options.now } : {}),
      ...(options.tracingExport ? { tracingExport: options.tracingExport } : {}),
    }),
  });
  const gateway = stack.served;
  return {
    publicUrl: stack.publicUrl,
    gateway,
    gw: gateway.gw,
    provider: stack.provider,
    upstream: stack.upstream.recording,
    helpdesk: stack.upstream.helpdesk,
    upstreamUrl: stack.upstream.url,
    config: stack.config,
    logs,
    cookieName: (realm) => `${gateway.gw.runtime.cookiePrefix}gatehouse-${realm}`,
    signIn: (path, account, jar) => signIn(`${stack.publicUrl}${path}`, account, jar ? { jar } : {}),
    close: () => stack.close(),
  };
}

/** The test stack's upstream: the recording one or the demo helpdesk, stopped with the stack. */
interface TestUpstream {
  url: string;
  recording: Upstream;
  helpdesk: DemoHelpdesk | null;
  close(): Promise<void>;
}

/** kind: the recording upstream, the demo helpdesk, or the URL of a helpdesk the test runs itself (not stopped here) */
async function startTestUpstream(kind: 'recording' | 'helpdesk' | string, publicUrl: string): Promise<TestUpstream> {
  if (kind !== 'recording' && kind !== 'helpdesk') return { url: kind, recording: CLOSED_UPSTREAM, helpdesk: null, close: async () => {} };
  if (kind === 'helpdesk') {
    const helpdesk = await startDemoHelpdesk({ gatewayUrl: publicUrl });
    return { url: helpdesk.url, recording: CLOSED_UPSTREAM, helpdesk, close: () => helpdesk.close() };
  }
  const recording = await startUpstream();
  return { url: recording.url, recording, helpdesk: null, close: () => recording.close() };
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
export async function authorizeUntilCallback(
  authorizeUrl: string,
  jar: CookieJar,
  account: { username: string; password: string },
  gatewayUrl: string,
): Promise<string> {
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
