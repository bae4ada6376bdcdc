// Issue 15, item 8: the command line explains itself. Per-command help with
// options, exit codes and environment; --version; usage mistakes (a --config
// without a file, an option the command does not take) with exit 2.
// Each case checks the exact text and exit code the operator sees.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HELP, OVERVIEW, parseArgs, parseDemoPort } from '../../src/cli-args.js';
import { ROOT, runCli } from '../helpers/ops.js';

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

t.test('--version prints the version and exits 0', async (t) => {
  for (const flag of ['--version', '-V']) {
    const result = await runCli([flag]);
    t.equal(result.code, 0, flag);
    t.equal(result.stdout, `gatehouse ${VERSION}\n`);
    t.equal(result.stderr, '');
  }
});

t.test('each command has its own help: options, exit codes, environment', async (t) => {
  for (const command of ['serve', 'check', 'demo', 'healthcheck'] as const) {
    t.same(parseArgs([command, '--help']), { kind: 'help', command }, `${command} --help`);
    t.same(
      parseArgs([command, '--config', 'x.yaml', '-h']),
      command === 'demo' ? { kind: 'usage', message: 'gatehouse demo: unknown option --config', command } : { kind: 'help', command },
    );
    t.same(parseArgs(['help', command]), { kind: 'help', command }, `help ${command}`);
    t.match(HELP[command], new RegExp(`^usage: gatehouse ${command}`));
    t.match(HELP[command], /\nexit codes:\n {2}0 {3}/);
  }
  t.match(HELP.demo, /GATEHOUSE_DEMO_PORT +the gateway's port, 1-65535 \(default 8080\)/);
  t.equal(new Set(Object.values(HELP)).size, 4, 'four different texts');
  // what the operator sees, from the built CLI
  const serve = await runCli(['serve', '--help']);
  t.equal(serve.code, 0);
  t.equal(serve.stdout, `${HELP.serve}\n`);
  const overview = await runCli(['--help']);
  t.equal(overview.code, 0);
  t.equal(overview.stdout, `${OVERVIEW}\n`);
  t.match(overview.stdout, /npx gatehouse/, 'says how to run it in a clone');
});

t.test("usage mistakes: what is wrong, then the command's help, exit 2", async (t) => {
  const cases: Array<[string[], string, keyof typeof HELP | undefined]> = [
    [['check', '--config'], 'gatehouse check: --config needs a file name, e.g. --config /etc/gatehouse/gateway.yaml', 'check'],
    [['check', '--config', '--json'], 'gatehouse check: --config needs a file name, e.g. --config /etc/gatehouse/gateway.yaml', 'check'],
    [['serve', '--config='], 'gatehouse serve: --config needs a file name, e.g. --config /etc/gatehouse/gateway.yaml', 'serve'],
    [['demo', '--json'], 'gatehouse demo: unknown option --json', 'demo'],
    [['serve', 'gateway.yaml'], 'gatehouse serve: unexpected argument "gateway.yaml"', 'serve'],
    [['sevre'], 'gatehouse: unknown command "sevre"', undefined],
    [['--json'], 'gatehouse: unknown option --json; the command comes first', undefined],
    [[], 'gatehouse: which command? (serve, check, demo or healthcheck)', undefined],
  ];
  for (const [args, message, command] of cases)
    t.same(parseArgs(args), { kind: 'usage', message, ...(command ? { command } : {}) }, `gatehouse ${args.join(' ')}`);
  t.same(parseArgs(['check', '-c', 'a.yaml', '--json']), { kind: 'run', command: 'check', config: 'a.yaml', json: true, watch: false });
  t.same(parseArgs(['serve', '--config=b.yaml', '--watch']), { kind: 'run', command: 'serve', config: 'b.yaml', json: false, watch: true });
  for (const [args, message, help] of [
    [['check', '--config'], 'gatehouse check: --config needs a file name, e.g. --config /etc/gatehouse/gateway.yaml', HELP.check],
    [['sevre'], 'gatehouse: unknown command "sevre"', OVERVIEW],
  ] as const) {
    const result = await runCli([...args]);
    t.equal(result.code, 2, `gatehouse ${args.join(' ')}: exit 2`);
    t.equal(result.stderr, `${message}\n\n${help}\n`);
    t.equal(result.stdout, '');
  }
});

t.test('GATEHOUSE_DEMO_PORT that is not a port is refused', async (t) => {
  for (const value of ['abc', '0', '70000', '80a', '']) {
    t.equal(
      parseDemoPort(value),
      `GATEHOUSE_DEMO_PORT must be a port number from 1 to 65535 (got "${value}"), e.g. GATEHOUSE_DEMO_PORT=8081 npm run demo`,
      JSON.stringify(value),
    );
  }
  t.equal(parseDemoPort(undefined), 8080);
  t.equal(parseDemoPort('8081'), 8081);
  const result = await runCli(['demo'], { env: { GATEHOUSE_DEMO_PORT: 'abc' } });
  t.equal(result.code, 2);
  t.equal(result.stderr, 'gatehouse demo: GATEHOUSE_DEMO_PORT must be a port number from 1 to 65535 (got "abc"), e.g. GATEHOUSE_DEMO_PORT=8081 npm run demo\n');
});
