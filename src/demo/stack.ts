/**
 * `gatehouse demo`: the embedded default. A real OpenID Provider, the demo
 * helpdesk and the gateway, all on loopback, wired with an embedded
 * gateway.yaml that goes through the same loading and validation as an
 * operator's file. The tests start the same stack on free ports.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseConfigText } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { startGateway, type RunningGateway } from '../server.js';
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

/** A port that was free a moment ago (loopback only). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
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
    post_logout_redirect: /agent
    login: automatic
    provider:
      issuer: ${issuer}
      client_id: demo-agent
      client_secret: demo-agent-secret-0123456789abcdef
      scopes: [openid, profile, email, groups]
    allow:
      claims:
        groups: [helpdesk-agents]
  user:
    paths: [/]
    callback_path: /login/authenticate-callback/2
    logout_path: /logout
    post_logout_redirect: /
    login: button
    button_text: Sign in with Demo SSO
    provider:
      issuer: ${issuer}
      client_id: demo-user
      client_secret: demo-user-secret-0123456789abcdef
      scopes: [openid, profile, email, groups]
log:
  level: \${GATEHOUSE_DEMO_LOG_LEVEL:-info}
`;
}

/** The demo provider's two clients, registered for a gateway at publicUrl (the embedded config's realms). */
export function demoClients(publicUrl: string): DemoClient[] {
  return [
    {
      client_id: 'demo-agent',
      client_secret: 'demo-agent-secret-0123456789abcdef',
      redirect_uris: [`${publicUrl}/agent/login/authenticate-callback/1`],
      post_logout_redirect_uris: [`${publicUrl}/agent`],
      backchannel_logout_uri: `${publicUrl}/.gatehouse/backchannel-logout/agent`,
      grant_types: ['authorization_code', 'refresh_token'],
    },
    {
      client_id: 'demo-user',
      client_secret: 'demo-user-secret-0123456789abcdef',
      redirect_uris: [`${publicUrl}/login/authenticate-callback/2`],
      post_logout_redirect_uris: [`${publicUrl}/`],
      backchannel_logout_uri: `${publicUrl}/.gatehouse/backchannel-logout/user`,
      grant_types: ['authorization_code', 'refresh_token'],
    },
  ];
}

export async function startDemoStack(options: DemoStackOptions = {}): Promise<DemoStack> {
  const gatewayPort = options.gatewayPort || (await freePort());
  const publicUrl = `http://127.0.0.1:${gatewayPort}`;
  const provider = await startDemoProvider({
    port: options.providerPort ?? 0,
    refreshTokens: options.refreshTokens ?? true,
    ...(options.idTokenTtlSeconds !== undefined ? { idTokenTtlSeconds: options.idTokenTtlSeconds } : {}),
    ...(options.accessTokenTtlSeconds !== undefined ? { accessTokenTtlSeconds: options.accessTokenTtlSeconds } : {}),
    clients: demoClients(publicUrl),
    accounts: DEMO_ACCOUNTS,
  });
  const helpdesk = await startDemoHelpdesk({ port: options.helpdeskPort ?? 0, gatewayUrl: publicUrl });
  let yaml = demoYaml(publicUrl, provider.issuer, helpdesk.url);
  if (options.editYaml) yaml = options.editYaml(yaml);
  // a fresh session secret per run: demo sessions do not outlive the demo
  const env = { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url'), GATEHOUSE_DEMO_LOG_LEVEL: process.env.GATEHOUSE_DEMO_LOG_LEVEL };
  const { config } = parseConfigText(yaml, '(embedded demo config)', env);
  let gateway: RunningGateway;
  try {
    gateway = await startGateway({
      config,
      file: '(embedded demo config)',
      port: gatewayPort,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
  } catch (error) {
    await Promise.allSettled([provider.close(), helpdesk.close()]);
    throw error;
  }
  return {
    gateway,
    provider,
    helpdesk,
    config,
    publicUrl,
    async close() {
      await gateway.close();
      await Promise.allSettled([provider.close(), helpdesk.close()]);
    },
  };
}
