/**
 * The command line's words: what each command does, its options, exit codes
 * and environment (`gatehouse <command> --help`), and argv parsed into a
 * command or a usage error that says what is wrong. cli.ts runs the commands.
 */
import { readFileSync } from 'node:fs';

export type Command = 'serve' | 'check' | 'demo' | 'healthcheck';
const COMMANDS: readonly Command[] = ['serve', 'check', 'demo', 'healthcheck'];

export type Parsed =
  | { kind: 'run'; command: Command; config: string; json: boolean; watch: boolean }
  | { kind: 'help'; command?: Command | undefined }
  | { kind: 'version' }
  /** a usage mistake: print `message` and the command's help on stderr, exit 2 */
  | { kind: 'usage'; message: string; command?: Command | undefined };

/** the options each command takes (besides --help) */
const OPTIONS: Record<Command, readonly string[]> = {
  serve: ['--config', '--watch'],
  check: ['--config', '--json'],
  demo: [],
  healthcheck: ['--config'],
};

export const OVERVIEW = `usage: gatehouse <command> [options]

commands:
  serve         run the gateway
  check         validate the configuration, reach every provider, print what to register
  demo          a local provider, a demo helpdesk and the gateway, all on loopback
  healthcheck   exit 0 if this instance's /.gatehouse/healthz answers 200 (container HEALTHCHECK)

  gatehouse <command> --help   what a command does: options, exit codes, environment
  gatehouse --version          print the version

In a clone, run it as npx gatehouse (after npm ci && npm run build) or node dist/cli.js.`;

const CONFIG_OPTION = '  -c, --config FILE   the configuration file (default: ./gateway.yaml)';
const CONFIG_ENV = `environment:
  every \${NAME} in the configuration file is read from the environment; an unset one is a
  configuration problem (exit 2). \${NAME:-default} gives a default (never for a secret key).`;

export const HELP: Record<Command, string> = {
  serve: `usage: gatehouse serve [--config FILE] [--watch]

Run the gateway with the configuration in FILE.

options:
${CONFIG_OPTION}
  --watch             re-read FILE when it changes, as on SIGHUP
  -h, --help          this help

signals:
  SIGHUP              re-read FILE: a valid one is swapped in, an invalid one is logged and the old one keeps serving
  SIGTERM, SIGINT     stop accepting, let in-flight requests finish, exit 0

exit codes:
  0   stopped by SIGTERM or SIGINT
  1   could not start (for example listen.port is in use) or failed while running
  2   the configuration is invalid: every problem is printed as file:line:column  key: message

${CONFIG_ENV}`,
  check: `usage: gatehouse check [--config FILE] [--json]

Before you deploy: list every problem in FILE at once, reach each provider's discovery and
JWKS, compare the provider's clock with this machine's, say what will bite later, and print
what to register at each provider (callback, logout, web origin and CORS origin URLs).

options:
${CONFIG_OPTION}
  --json              the report as JSON on stdout (also for an invalid file)
  -h, --help          this help

exit codes:
  0   everything checked is fine (warnings and notes do not fail the check)
  1   a check failed (a provider cannot be reached, a key file cannot be read, …)
  2   the configuration is invalid (printed on stderr, or as JSON with --json)

${CONFIG_ENV}`,
  demo: `usage: gatehouse demo

Start a local OpenID Provider, a demo helpdesk and the gateway, all on 127.0.0.1, and print
where to open them and the test accounts. Ctrl-C stops everything.

options:
  -h, --help          this help

environment:
  GATEHOUSE_DEMO_PORT        the gateway's port, 1-65535 (default 8080)
  GATEHOUSE_DEMO_LOG_LEVEL   fatal, error, warn, info, debug or trace (default warn)

exit codes:
  0   stopped with Ctrl-C (SIGINT) or SIGTERM
  1   could not start (for example the port is in use)
  2   GATEHOUSE_DEMO_PORT or GATEHOUSE_DEMO_LOG_LEVEL is not valid`,
  healthcheck: `usage: gatehouse healthcheck [--config FILE]

Ask this instance's own listener (listen.host and listen.port of FILE) for
/.gatehouse/healthz: the container's HEALTHCHECK, with node itself (no curl needed).

options:
${CONFIG_OPTION}
  -h, --help          this help

exit codes:
  0   /.gatehouse/healthz answered 200
  1   it answered something else, or nothing within 3 s
  2   the configuration is invalid

${CONFIG_ENV}`,
};

/** the package's version, from the package.json next to src/ and dist/ */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function isCommand(word: string | undefined): word is Command {
  return (COMMANDS as readonly string[]).includes(word ?? '');
}

export function parseArgs(argv: readonly string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined) return { kind: 'usage', message: 'gatehouse: which command? (serve, check, demo or healthcheck)' };
  if (first === '--version' || first === '-V' || first === 'version') return { kind: 'version' };
  if (first === '--help' || first === '-h' || first === 'help') {
    const about = rest[0];
    if (about === undefined) return { kind: 'help' };
    return isCommand(about) ? { kind: 'help', command: about } : { kind: 'usage', message: `gatehouse: unknown command "${about}"` };
  }
  if (!isCommand(first)) {
    return {
      kind: 'usage',
      message: first.startsWith('-') ? `gatehouse: unknown option ${first}; the command comes first` : `gatehouse: unknown command "${first}"`,
    };
  }
  const command = first;
  const usage = (message: string): Parsed => ({ kind: 'usage', message: `gatehouse ${command}: ${message}`, command });
  const parsed = { kind: 'run' as const, command, config: 'gateway.yaml', json: false, watch: false };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help', command };
    const [name, inline] = arg.startsWith('--config=') ? ['--config', arg.slice('--config='.length)] : [arg === '-c' ? '--config' : arg, undefined];
    if (!name.startsWith('-')) return usage(`unexpected argument "${arg}"`);
    if (!OPTIONS[command].includes(name)) return usage(`unknown option ${arg}`);
    if (name === '--config') {
      const value = inline ?? rest[++i];
      // "--config" as the last word, or followed by another option, would otherwise check ./gateway.yaml silently
      if (value === undefined || value === '' || (inline === undefined && value.startsWith('-')))
        return usage('--config needs a file name, e.g. --config /etc/gatehouse/gateway.yaml');
      parsed.config = value;
    } else if (name === '--json') parsed.json = true;
    else if (name === '--watch') parsed.watch = true;
  }
  return parsed;
}

/** GATEHOUSE_DEMO_PORT: a port number, or the sentence saying what is wrong (Number("abc") is NaN, and NaN || random would pick any port silently) */
export function parseDemoPort(text: string | undefined): number | string {
  const value = text ?? '8080';
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (port >= 1 && port <= 65535) return port;
  return `GATEHOUSE_DEMO_PORT must be a port number from 1 to 65535 (got ${JSON.stringify(value)}), e.g. GATEHOUSE_DEMO_PORT=8081 npm run demo`;
}
