// The forward-auth stack: a real proxy (Caddy, nginx) in front of the recording
// upstream (test/helpers/upstream.ts), Gatehouse beside it only judging
// (GET /.gatehouse/auth), and the real in-process provider. The browser talks
// to the proxy: public_url is the proxy's address, so the provider's clients,
// the callbacks and the logout paths all go through it, as in production.
// Gatehouse listens on its own port (port 0) and trusts only 127.0.0.1, where
// the proxy connects from; a test that plays an untrusted peer connects from
// 127.0.0.2 (UNTRUSTED_ADDRESS).
//
// What the upstream received is the ground truth: `upstream.requests`.
//
// The proxy's port is claimed up front (test/helpers/ports.ts) because it is in
// public_url; should something outside the tests hold it (the proxy says
// "address already in use"), the whole stack starts over with another claim.
import { randomBytes } from 'node:crypto';
import { demoClients, demoYaml, listeningSocket } from '../../src/demo/stack.js';
import { startDemoProvider, DEMO_ACCOUNTS, type DemoAccount, type DemoProvider } from '../../src/demo/provider.js';
import { parseConfigText } from '../../src/config/load.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { startUpstream, type Upstream } from './upstream.js';
import { captureLogger, type LogCapture } from './stack.js';
import { claimPort } from './ports.js';
import { signIn, type CookieJar, type FlowResult } from './browserless.js';
import { CaddyPortInUseError } from './caddy.js';

/** a loopback address that is not in the gateway's trusted_proxies */
export const UNTRUSTED_ADDRESS = '127.0.0.2';

export interface ProxyAddresses {
  /** the port the proxy must listen on (127.0.0.1), public_url's */
  port: number;
  /** host:port of Gatehouse */
  gateway: string;
  /** host:port of the helpdesk (the recording upstream) */
  upstream: string;
}

export interface RunningProxy {
  close(): Promise<void>;
}

export interface ForwardAuthStackOptions<P extends RunningProxy> {
  /** start the proxy on `port`; reject with a CaddyPortInUseError (or an error saying "Address already in use") when the port is held elsewhere */
  proxy(addresses: ProxyAddresses): Promise<P>;
  editYaml?: (yaml: string) => string;
  now?: () => number;
  accounts?: DemoAccount[];
  refreshTokens?: boolean;
}

export interface ForwardAuthStack<P extends RunningProxy> {
  /** the proxy's address: what a browser uses */
  publicUrl: string;
  /** Gatehouse's own address (a test may send it requests directly) */
  gatewayUrl: string;
  gateway: RunningGateway;
  proxy: P;
  provider: DemoProvider;
  upstream: Upstream;
  logs: LogCapture;
  cookieName(realm: string): string;
  /** navigate to `path` through the proxy and sign in as `account` */
  signIn(path: string, account: { username: string; password: string }, jar?: CookieJar): Promise<FlowResult>;
  close(): Promise<void>;
}

const ATTEMPTS = 5;

/** The demo config, served behind the proxy: trusted_proxies names the proxy's address. */
function forwardAuthYaml(publicUrl: string, issuer: string, upstreamUrl: string): string {
  return `${demoYaml(publicUrl, issuer, upstreamUrl)}trusted_proxies: [127.0.0.1/32]\n`;
}

export async function startForwardAuthStack<P extends RunningProxy>(options: ForwardAuthStackOptions<P>): Promise<ForwardAuthStack<P>> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= ATTEMPTS || !(error instanceof CaddyPortInUseError || /address already in use/i.test((error as Error).message))) throw error;
    }
  }
}

async function startOnce<P extends RunningProxy>(options: ForwardAuthStackOptions<P>): Promise<ForwardAuthStack<P>> {
  const claim = claimPort();
  const publicUrl = `http://127.0.0.1:${claim.port}`;
  const logs = captureLogger('info');
  const started: Array<{ close(): Promise<void> }> = [];
  const stop = async (): Promise<void> => {
    for (const part of started.reverse()) await part.close().catch(() => {});
    claim.release();
  };
  try {
    const provider = await startDemoProvider({
      port: 0,
      refreshTokens: options.refreshTokens ?? false,
      clients: demoClients(publicUrl, { backchannelLogout: false }),
      accounts: options.accounts ?? DEMO_ACCOUNTS,
    });
    started.push(provider);
    const upstream = await startUpstream();
    started.push(upstream);
    const base = forwardAuthYaml(publicUrl, provider.issuer, upstream.url);
    const yaml = options.editYaml ? options.editYaml(base) : base;
    const { config } = parseConfigText(yaml, '(forward-auth test config)', { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url') });
    const listener = await listeningSocket(0);
    let gateway: RunningGateway;
    try {
      gateway = await startGateway({ config, file: '(forward-auth test config)', listener, logger: logs.logger, ...(options.now ? { now: options.now } : {}) });
    } catch (error) {
      listener.close();
      throw error;
    }
    started.push(gateway);
    const proxy = await options.proxy({ port: claim.port, gateway: `127.0.0.1:${gateway.port}`, upstream: `127.0.0.1:${upstream.port}` });
    started.push(proxy);
    return {
      publicUrl,
      gatewayUrl: `http://127.0.0.1:${gateway.port}`,
      gateway,
      proxy,
      provider,
      upstream,
      logs,
      cookieName: (realm) => `${gateway.gw.runtime.cookiePrefix}gatehouse-${realm}`,
      signIn: (path, account, jar) => signIn(`${publicUrl}${path}`, account, jar ? { jar } : {}),
      close: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
