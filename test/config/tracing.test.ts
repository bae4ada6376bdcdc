// observe.tracing: off unless written; a bad endpoint or ratio is a config error that points at the key.
import t from 'tap';
import { MINIMAL, errorsOf, load, problemsOf, summary } from './fixtures/config.js';
import { buildRuntime } from '../../src/runtime.js';

const tracing = (lines: string) => `${MINIMAL}observe:\n  tracing:\n${lines}`;
/** the line of `tracing:` in those files; its keys follow */
const TRACING_LINE = MINIMAL.split('\n').length + 1;

t.test('absent: tracing off; written: the endpoint with the defaults beside it', async (t) => {
  t.same(load(MINIMAL).config.observe, {}, 'no tracing unless configured');
  const { config } = load(tracing('    otlp_endpoint: http://otel-collector:4318/v1/traces\n'));
  t.same(config.observe.tracing, { otlp_endpoint: 'http://otel-collector:4318/v1/traces', sample_ratio: 1, service_name: 'gatehouse' });
  t.equal(load(tracing('    otlp_endpoint: http://c:4318/v1/traces\n    sample_ratio: 0.25\n')).config.observe.tracing?.sample_ratio, 0.25);
  // from the environment, as a plain scalar: a number where the key wants one
  t.equal(
    load(tracing('    otlp_endpoint: http://c:4318/v1/traces\n    sample_ratio: ${RATIO}\n'), { RATIO: '0.5' }).config.observe.tracing?.sample_ratio,
    0.5,
  );
});

t.test('the runtime carries the settings, or null when off', async (t) => {
  const deps = { generation: 1, file: 'gateway.yaml', providers: new Map(), now: Date.now };
  const off = await buildRuntime(load(MINIMAL).config, deps);
  t.equal(off.tracing, null);
  for (const provider of deps.providers.values()) provider.close();
  const on = await buildRuntime(
    load(tracing('    otlp_endpoint: https://otel.example.com/v1/traces\n    sample_ratio: 0.1\n    service_name: helpdesk-gateway\n')).config,
    deps,
  );
  t.same(on.tracing, { endpoint: 'https://otel.example.com/v1/traces', sampleRatio: 0.1, serviceName: 'helpdesk-gateway' });
  for (const provider of deps.providers.values()) provider.close();
});

t.test('bad values are errors at their line and column', async (t) => {
  const cases: Array<[string, string, number, number]> = [
    ['    sample_ratio: 0.5\n', 'observe.tracing.otlp_endpoint: required key is missing', TRACING_LINE, 3],
    [
      '    otlp_endpoint: otel-collector:4318\n',
      'observe.tracing.otlp_endpoint: must be an http:// or https:// URL like http://otel-collector:4318/v1/traces (got "otel-collector:4318")',
      TRACING_LINE + 1,
      5,
    ],
    [
      '    otlp_endpoint: http://user:pw@c:4318/v1/traces\n',
      'observe.tracing.otlp_endpoint: must not contain a user name or password (give collector credentials in OTEL_EXPORTER_OTLP_TRACES_HEADERS)',
      TRACING_LINE + 1,
      5,
    ],
    [
      '    otlp_endpoint: http://c:4318/v1/traces\n    sample_ratio: 1.5\n',
      'observe.tracing.sample_ratio: must be between 0 and 1 (got 1.5)',
      TRACING_LINE + 2,
      5,
    ],
    [
      '    otlp_endpoint: http://c:4318/v1/traces\n    sample_ratio: half\n',
      'observe.tracing.sample_ratio: must be a number between 0 and 1 (got "half")',
      TRACING_LINE + 2,
      5,
    ],
    [
      '    otlp_endpoint: http://c:4318/v1/traces\n    sample_rate: 0.1\n',
      'observe.tracing.sample_rate: unknown key (did you mean "sample_ratio"?)',
      TRACING_LINE + 2,
      5,
    ],
  ];
  for (const [lines, message, line, column] of cases) {
    const errors = errorsOf(tracing(lines));
    t.same(summary(errors), [message], message);
    t.same([errors[0]?.file, errors[0]?.line, errors[0]?.column], ['gateway.yaml', line, column], `${message} at ${line}:${column}`);
  }
});

t.test('an endpoint without a path is taken as written, with a warning naming /v1/traces', async (t) => {
  const warnings = summary(problemsOf(tracing('    otlp_endpoint: http://otel-collector:4318\n')));
  t.ok(
    warnings.includes(
      'warning observe.tracing.otlp_endpoint: has no path: OTLP/HTTP collectors take traces at /v1/traces (try "http://otel-collector:4318/v1/traces")',
    ),
    warnings.join('\n'),
  );
});
