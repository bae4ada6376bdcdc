// Forward-auth with a real nginx (Debian's /usr/sbin/nginx) IN FRONT: the
// browser talks to nginx (public_url is nginx's address), nginx asks Gatehouse
// with auth_request and forwards to a recording upstream itself. nginx runs
// docs/snippets/nginx-forward-auth.conf exactly as documented, only its
// placeholders filled in, so the documentation and this test cannot drift.
//
// The port: nginx cannot listen on port 0 and report it, and public_url (in the
// provider's registered redirect URIs and the config) must name it before
// anything starts, so it is claimed first (test/helpers/ports.ts). Should
// something outside the tests hold it, nginx exits with "Address already in use"
// and the whole stack is started again on another claimed port.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseConfigText } from '../../src/config/load.js';
import { demoClients, demoYaml, listeningSocket, portOf } from '../../src/demo/stack.js';
import { startDemoProvider, DEMO_ACCOUNTS, type DemoProvider } from '../../src/demo/provider.js';
import { startGateway, type RunningGateway } from '../../src/server.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { startNginx } from '../helpers/nginx-helpdesk.js';
import { claimPort } from '../helpers/ports.js';
import { captureLogger, type LogCapture } from '../helpers/stack.js';

export const SNIPPET = resolve(import.meta.dirname, '../../docs/snippets/nginx-forward-auth.conf');

export interface NginxFront {
  /** nginx's address: public_url, what the browser uses */
  publicUrl: string;
  /** Gatehouse's own address (nginx's peer) */
  gatewayUrl: string;
  gateway: RunningGateway;
  provider: DemoProvider;
  upstream: Upstream;
  logs: LogCapture;
  errorLog(): Promise<string>;
  close(): Promise<void>;
}

export interface NginxFrontOptions {
  editYaml?: (yaml: string) => string;
  /** default false: the provider does not call back-channel logout (test/helpers/stack.ts says why) */
  backchannelLogout?: boolean;
  /** Gatehouse's clock */
  now?: () => number;
}

/** The snippet with its placeholders filled in: the only change to the documented text. */
export async function filledSnippet(values: { gatehouse: string; helpdesk: string; listen: string; serverName: string }): Promise<string> {
  const text = await readFile(SNIPPET, 'utf8');
  return text
    .replaceAll('__GATEHOUSE__', values.gatehouse)
    .replaceAll('__HELPDESK__', values.helpdesk)
    .replaceAll('__LISTEN__', values.listen)
    .replaceAll('__SERVER_NAME__', values.serverName);
}

function nginxConf(dir: string, snippet: string): string {
  return `worker_processes 1;
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
`;
}

const ATTEMPTS = 5;

export async function startNginxFront(options: NginxFrontOptions = {}): Promise<NginxFront> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= ATTEMPTS || !/Address already in use/.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(options: NginxFrontOptions): Promise<NginxFront> {
  const claim = claimPort();
  const publicUrl = `http://127.0.0.1:${claim.port}`;
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-fwdauth-nginx-'));
  const stops: Array<() => Promise<unknown>> = [async () => claim.release(), () => rm(dir, { recursive: true, force: true })];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    const provider = await startDemoProvider({
      port: 0,
      clients: demoClients(publicUrl, { backchannelLogout: options.backchannelLogout ?? false }),
      accounts: DEMO_ACCOUNTS,
    });
    stops.push(() => provider.close());
    const upstream = await startUpstream();
    stops.push(() => upstream.close());
    const listener = await listeningSocket(0);
    const gatewayUrl = `http://127.0.0.1:${portOf(listener)}`;
    // nginx is Gatehouse's only peer: its X-Original-* and X-Forwarded-* are believed
    let yaml = `${demoYaml(publicUrl, provider.issuer, upstream.url)}trusted_proxies: [127.0.0.1/32]\nworkers: 1\n`;
    if (options.editYaml) yaml = options.editYaml(yaml);
    const { config } = parseConfigText(yaml, '(forward-auth test config)', { GATEHOUSE_DEMO_SECRET: randomBytes(32).toString('base64url') });
    const logs = captureLogger('info');
    const gateway = await startGateway({
      config,
      file: '(forward-auth test config)',
      listener,
      logger: logs.logger,
      ...(options.now ? { now: options.now } : {}),
    });
    stops.push(() => gateway.close());
    const snippet = await filledSnippet({
      gatehouse: `127.0.0.1:${portOf(listener)}`,
      helpdesk: `127.0.0.1:${upstream.port}`,
      listen: `127.0.0.1:${claim.port}`,
      serverName: '127.0.0.1',
    });
    await writeFile(join(dir, 'nginx.conf'), nginxConf(dir, snippet));
    const { child, exited } = await startNginx(dir);
    stops.push(async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    });
    return {
      publicUrl,
      gatewayUrl,
      gateway,
      provider,
      upstream,
      logs,
      errorLog: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
      close: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
