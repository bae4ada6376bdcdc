// Both real proxies in front, each running its documented snippet
// (docs/snippets/nginx-forward-auth.conf, docs/snippets/caddy-forward-auth.Caddyfile),
// Gatehouse judging and a recording upstream behind: the adversarial tests run
// every attack through each. What the upstream received is the ground truth.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filledSnippet, startNginxFront } from './nginx-front.js';
import { startNginx } from '../helpers/nginx-helpdesk.js';
import type { ProxyAddresses, RunningProxy } from '../helpers/forward-auth-stack.js';
import { startCaddyForwardAuth } from '../helpers/caddy.js';
import { startForwardAuthStack } from '../helpers/forward-auth-stack.js';
import type { Upstream } from '../helpers/upstream.js';
import type { LogCapture } from '../helpers/stack.js';
import { signIn } from '../helpers/browserless.js';
import type { RunningGateway } from '../../src/server.js';

export interface Front {
  name: 'nginx' | 'caddy';
  /** the proxy's address: what a browser uses */
  publicUrl: string;
  /** Gatehouse's own address */
  gatewayUrl: string;
  gateway: RunningGateway;
  upstream: Upstream;
  logs: LogCapture;
  /** sign in through the proxy; the Cookie header the browser then sends to `realm`'s paths */
  cookieFor(realm: 'agent' | 'user', account: { username: string; password: string }): Promise<string>;
  close(): Promise<void>;
}

function cookieFor(publicUrl: string) {
  return async (realm: 'agent' | 'user', account: { username: string; password: string }): Promise<string> => {
    const path = realm === 'agent' ? '/agent' : '/tickets';
    // the sign-in start a button (or nginx's error_page) sends the browser to
    const flow = await signIn(`${publicUrl}/.gatehouse/login?realm=${realm}&rd=${encodeURIComponent(path)}`, account);
    if (flow.final.status !== 200) throw new Error(`sign-in as ${account.username} ended at ${flow.final.url} (${flow.final.status})`);
    return flow.jar.cookieHeader(`${publicUrl}${path}`)!;
  };
}

export async function startFronts(): Promise<Front[]> {
  const nginx = await startNginxFront();
  const caddy = await startForwardAuthStack({ proxy: startCaddyForwardAuth }).catch(async (error: unknown) => {
    await nginx.close();
    throw error;
  });
  return [
    {
      name: 'nginx',
      publicUrl: nginx.publicUrl,
      gatewayUrl: nginx.gatewayUrl,
      gateway: nginx.gateway,
      upstream: nginx.upstream,
      logs: nginx.logs,
      cookieFor: cookieFor(nginx.publicUrl),
      close: () => nginx.close(),
    },
    {
      name: 'caddy',
      publicUrl: caddy.publicUrl,
      gatewayUrl: caddy.gatewayUrl,
      gateway: caddy.gateway,
      upstream: caddy.upstream,
      logs: caddy.logs,
      cookieFor: cookieFor(caddy.publicUrl),
      close: () => caddy.close(),
    },
  ];
}

/** Every X-Auth-* header (any spelling) a recorded request carried, with its values. */
export function identityHeaders(request: { rawHeaders: string[] }): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < request.rawHeaders.length; i += 2) {
    const name = request.rawHeaders[i]!.toLowerCase();
    if (!/^x[-_]auth[-_]/.test(name)) continue;
    out[name] ??= [];
    out[name].push(request.rawHeaders[i + 1]!);
  }
  return out;
}

/**
 * nginx running the documented snippet, as a proxy for startForwardAuthStack (a test that needs
 * its own accounts or config where startNginxFront has none to give).
 */
export async function startNginxForwardAuth(addresses: ProxyAddresses): Promise<RunningProxy & { errorLog(): Promise<string> }> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-fwdauth-nginx-'));
  const snippet = await filledSnippet({
    gatehouse: addresses.gateway,
    helpdesk: addresses.upstream,
    listen: `127.0.0.1:${addresses.port}`,
    serverName: '127.0.0.1',
  });
  await writeFile(
    join(dir, 'nginx.conf'),
    `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${snippet}
}
`,
  );
  let started: Awaited<ReturnType<typeof startNginx>>;
  try {
    started = await startNginx(dir);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    async close() {
      if (started.child.exitCode === null) started.child.kill('SIGTERM');
      await started.exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
