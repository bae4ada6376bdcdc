// A real Caddy (Debian's /usr/bin/caddy, 2.6) in front of the helpdesk, for the
// forward-auth tests: Caddy forwards, Gatehouse only judges. The site block is
// the test's (usually docs/snippets/caddy-forward-auth.Caddyfile with its
// addresses filled in); the helper adds the global options that keep Caddy to
// itself: no admin endpoint, no automatic HTTPS, and its data, config and
// autosave in a temp dir instead of the user's home.
//
// The port: Caddy cannot listen on port 0 and report it, and the forward-auth
// stack needs the port before anything else (it is in public_url, which the
// provider's clients name). So the caller claims it (test/helpers/ports.ts) and
// passes it in; when something outside the tests holds it, startCaddy rejects
// with a CaddyPortInUseError and the caller starts over with another claim.
//
// Ready: Caddy logs "serving initial configuration" (stderr, JSON) once every
// server listens; an exit before that rejects with what it logged.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CADDY = '/usr/bin/caddy';

export class CaddyPortInUseError extends Error {}

export interface CaddyOptions {
  /** the loopback port the site listens on (claimed by the caller) */
  port: number;
  /** the Caddyfile's site block(s); its address should be http://127.0.0.1:<port> */
  site: string;
}

export interface Caddy {
  url: string;
  port: number;
  /** everything Caddy logged so far, for failure messages */
  log(): string;
  close(): Promise<void>;
}

const READY = '"msg":"serving initial configuration"';

function caddyfile(site: string): string {
  // the global options block must come first
  return `{
	admin off
	auto_https off
}

${site}
`;
}

export async function startCaddy(options: CaddyOptions): Promise<Caddy> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-caddy-'));
  const file = join(dir, 'Caddyfile');
  await writeFile(file, caddyfile(options.site));
  // Caddy keeps certificates, locks and an autosave of its config under $XDG_DATA_HOME / $XDG_CONFIG_HOME (or $HOME)
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_CONFIG_HOME: join(dir, 'config') };
  const child: ChildProcess = spawn(CADDY, ['run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'ignore', 'pipe'], env, cwd: dir });
  let log = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      log += chunk;
      if (log.includes(READY)) resolve();
    });
    child.once('error', reject);
    void exited.then((code) => {
      const message = `caddy exited (${code}) before serving: ${log}`;
      reject(/address already in use/.test(log) ? new CaddyPortInUseError(message) : new Error(message));
    });
  });
  try {
    await ready;
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `http://127.0.0.1:${options.port}`,
    port: options.port,
    log: () => log,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The documented Caddy snippet, run as it is with its placeholder names replaced. */
export const CADDY_SNIPPET = fileURLToPath(new URL('../../docs/snippets/caddy-forward-auth.Caddyfile', import.meta.url));

/** The snippet's site block for these addresses; each placeholder name must be in the file (so doc and test cannot drift apart). */
export async function caddySnippetSite(addresses: { port: number; gateway: string; upstream: string }): Promise<string> {
  let text = await readFile(CADDY_SNIPPET, 'utf8');
  const names: Array<[RegExp, string]> = [
    [/^helpdesk\.example\.com \{$/m, `http://127.0.0.1:${addresses.port} {`],
    [/\bgatehouse:8080\b/g, addresses.gateway],
    [/\bhelpdesk:80\b/g, addresses.upstream],
  ];
  for (const [name, value] of names) {
    if (!name.test(text)) throw new Error(`${CADDY_SNIPPET} no longer names ${name.source}`);
    name.lastIndex = 0;
    text = text.replace(name, value);
  }
  return text;
}

/** Caddy running the documented snippet, in front of `upstream`, Gatehouse at `gateway` judging. */
export async function startCaddyForwardAuth(addresses: { port: number; gateway: string; upstream: string }): Promise<Caddy> {
  return startCaddy({ port: addresses.port, site: await caddySnippetSite(addresses) });
}
