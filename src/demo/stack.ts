/**
 * `gatehouse demo`: the embedded default. A real OpenID Provider, the demo
 * helpdesk and the gateway, all on loopback, wired with an embedded
 * gateway.yaml that goes through the same loading and validation as an
 * operator's file. `startStack` is how every stack is put together, here and in the
 * tests (other providers, upstreams, several gateways behind one address): the
 * gateway's socket first, then each part for its public URL, then the config.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { parseConfigText } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { startGateway, type RunningGateway, type StartOptions } from '../server.js';
import { startDemoProvider, DEMO_ACCOUNTS, type DemoClient, type DemoProvider } from './provider.js';
import { startDemoHelpdesk, type DemoHelpdesk } from './helpdesk.js';
import type { Logger } from '../observe/log.js';

export interface DemoStackOptions {
  gatewayPort?: number;
  providerPort?: number;
  helpdeskPort?: number;
  logger?: Logger;
  /** change the embedded YAML before it is loaded (tests: button login, allow rules, ...) */
  editYaml?: (yaml: string) => string;
  refreshTokens?: boolean;
  idTokenTtlSeconds?: number;
  accessTokenTtlSeconds?: number;
  /** the gateway's clock (tests move it forward to expire sessions without waiting) */
  now?: () => number;
}

export interface DemoStack {
  gateway: RunningGateway;
  provider: DemoProvider;
  helpdesk: DemoHelpdesk;
  config: GatewayConfig;
  /** what browsers use */
  publicUrl: string;
  close(): Promise<void>;
}

/**
 * A TCP socket listening on loopback (port 0: a port the kernel picks, held from now on), for startGateway
 * to serve on (its `listener` option): the gateway's port is known before the config naming it in public_url
 * is built, and no one else can take it in between. Connections that arrive before the gateway takes it over
 * are not answered, so publish its address only once the gateway has started.
 */
export function listeningSocket(port = 0, host = '127.0.0.1'): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

/** The port a listening socket is bound to. */
export function portOf(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/** A demo realm's provider block: the demo provider's client of that id (demoClients), with its secret. */
function demoProviderYaml(issuer: string, clientId: string): string {
  return `    provider:
      issuer: ${issuer}
      client_id: ${clientId}
      client_secret: ${demoClientSecret(clientId)}
      scopes: [openid, profile, email, groups]`;
}

function demoClientSecret(clientId: string): string {
  return `${clientId}-secret-0123456789abcdef`;
}

export function demoYaml(publicUrl: string, issuer: string, helpdeskUrl: string): string {
  return `# The embedded demo configuration (see gateway.yaml for the documented example)
public_url: ${publicUrl}
listen:
  host: 127.0.0.1
  port: ${new URL(publicUrl).port}
upstream:
  url: ${helpdeskUrl}
  timeout: 10s
session:
  secret: \${GATEHOUSE_DEMO_SECRET}
  lifetime: 8h
  idle_timeout: 1h
public_paths:
  - /favicon.ico
realms:
  agent:
    paths: [/agent]
    callback_path: /agent/login/authenticate-callback/1
    logout_path: /agent/logout
    login: automatic
${demoProviderYaml(issuer, 'demo-agent')}
    allow:
      claims:
        groups: [helpdesk-agents]
  user:
    paths: [/]
    callback_path: /login/authenticate-callback/2
    logout_path: /logout
    login: button
    button_text: Sign in with Demo SSO
${demoProviderYaml(issuer, 'demo-user')}
log:
  level: \${GATEHOUSE_DEMO_LOG_LEVEL:-info}
`;
}

/**
 * The demo provider's two clients, registered for a gateway at publicUrl (the embedded config's realms).
 * backchannelLogout (default true): the provider calls the gateway's back-channel logout endpoint when
 * someone signs out there.
 */
export function demoClients(publicUrl: string, options: { backchannelLogout?: boolean } = {}): DemoClient[] {
  const backchannel = options.backchannelLogout ?? true;
  return [
    {
      client_id: 'demo-agent',
      client_secret: demoClientSecret('demo-agent'),
      redirect_uris: [`${publicUrl}/agent/login/authenticate-callback/1`],
      post_logout_redirect_uris: [`${publicUrl}/agent`],
      ...(backchannel ? { backchannel_logout_uri: `${publicUrl}/.gatehouse/backchannel-logout/agent` } : {}),
      grant_types: ['authorization_code', 'refresh_token'],
    },
    {
      client_id: 'demo-user',
      client_secret: demoClientSecret('demo-user'),
      redirect_uris: [`${publicUrl}/login/authenticate-callback/2`],
      post_logout_redirect_uris: [`${publicUrl}/`],
      ...(backchannel ? { backchannel_logout_uri: `${publicUrl}/.gatehouse/backchannel-logout/user` } : {}),
      grant_types: ['authorization_code', 'refresh_token'],
    },
  ];
}

/** A part of a stack that is stopped with it. */
export interface StackPart {
  close(): Promise<void>;
}

export interface StackSpec<P extends StackPart, U extends StackPart, S extends StackPart> {
  /** the gateway's port; 0 or absent: one the kernel picks */
  port?: number;
  /** the OpenID Provider, with its clients registered for publicUrl */
  provider(publicUrl: string): Promise<P>;
  /** the application behind the gateway */
  upstream(publicUrl: string): Promise<U>;
  /** the gateway.yaml text, from the parts' addresses */
  yaml(publicUrl: string, provider: P, upstream: U): string;
  /** the environment the YAML's ${...} are read from */
  env?: Record<string, string | undefined>;
  /** names the config in problems and logs */
  file: string;
  /** start what listens on `listener` (public_url): usually one gateway, see serveGateway */
  serve(listener: Server, config: GatewayConfig, file: string, parts: { provider: P; upstream: U }): Promise<S>;
}

export interface Stack<P, U, S> {
  publicUrl: string;
  yaml: string;
  config: GatewayConfig;
  provider: P;
  upstream: U;
  /** what serve() started */
  served: S;
  /** what serve() started first, then the provider and the upstream */
  close(): Promise<void>;
}

/**
 * The one way stacks are put together: the public socket first (its port is in public_url, which the
 * provider's clients and the config need), then the provider and the upstream, then the config, then what
 * serves public_url. A failure at any step stops what was started.
 */
export async function startStack<P extends StackPart, U extends StackPart, S extends StackPart>(spec: StackSpec<P, U, S>): Promise<Stack<P, U, S>> {
  const listener = await listeningSocket(spec.port ?? 0);
  const publicUrl = `http://127.0.0.1:${portOf(listener)}`;
  const started: StackPart[] = [];
  try {
    const provider = await spec.provider(publicUrl);
    started.push(provider);
    const upstream = await spec.upstream(publicUrl);
    started.push(upstream);
    const yaml = spec.yaml(publicUrl, provider, upstream);
    const { config } = parseConfigText(yaml, spec.file, spec.env ?? {});
    const served = await spec.serve(listener, config, spec.file, { provider, upstream });
    return {
      publicUrl,
      yaml,
      config,
      provider,
      upstream,
      served,
      async close() {
        await served.close();
        await Promise.allSettled([provider.close(), upstream.close()]);
      },
    };
  } catch (error) {
    listener.close();
    await Promise.allSettled(started.map((part) => part.close()));
    throw error;
  }
}

/** The usual serve step: one gateway on the public socket. */
export function serveGateway(
  options: Omit<StartOptions, 'config' | 'file' | 'listener' | 'port' | 'host'> = {},
): (listener: Server, config: GatewayConfig, file: string) => Promise<RunningGateway> {
  return (listener, config, file) => startGateway({ ...options, config, file, listener });
}

export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const stack = await startStack({
    port: options.gatewayPort ?? 0,
    file: '(embedded demo config)',
    provider: (publicUrl) =>
      startDemoProvider({
        port: options.providerPort ?? 0,
        refreshTokens: options.refreshTokens ?? true,
        ...(options.idTokenTtlSeconds !== undefined ? { idTokenTtlSeconds: options.idTokenTtlSeconds } : {}),
        ...(options.accessTokenTtlSeconds !== undefined ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
        clients: demoClients(publicUrl),
        accounts: DEMO_ACCOUNTS,
      }),
    upstream: (publicUrl) => startDemoHelpdesk({ port: options.helpdeskPort ?? 0, gatewayUrl: publicUrl }),
    yaml: (publicUrl, provider, helpdesk) => {
      const yaml = demoYaml(publicUrl, provider.issuer, helpdesk.url);
      return options.editYaml ? options.editYaml(yaml) : yaml;
    },
    // a fresh session secret per run: demo sessions do not outlive the demo
    env: { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url'), GATEHOUSE_DEMO_LOG_LEVEL: process.env.GATEHOUSE_DEMO_LOG_LEVEL },
    serve: serveGateway({
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.now ? { now: options.now } : {}),
    }),
  });
  return {
    gateway: stack.served,
    provider: stack.provider,
    helpdesk: stack.upstream,
    config: stack.config,
    publicUrl: stack.publicUrl,
    close: () => stack.close(),
  };
}
