// observe/metrics.ts counts requests and upstream latency in plain numbers and
// hands them to prom-client only when scraped: the exposition must still be
// Prometheus' (cumulative buckets, le is inclusive, +Inf, _sum, _count, totals).
import t from 'tap';
import { Metrics } from '../../src/observe/metrics.js';

const line = (text: string, name: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${name} `));
  return found === undefined ? undefined : Number(found.slice(name.length + 1));
};

t.test('upstream latency: cumulative buckets, a value on a bound counts in that bucket', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  for (const seconds of [0.0004, 0.001, 0.003, 0.003, 45]) metrics.upstream(seconds);
  const text = await metrics.render();
  const bucket = (le: string) => line(text, `gatehouse_upstream_duration_seconds_bucket{le="${le}"}`);
  t.equal(bucket('0.001'), 2, '0.0004 and exactly 0.001');
  t.equal(bucket('0.0025'), 2);
  t.equal(bucket('0.005'), 4);
  t.equal(bucket('30'), 4, '45 s is above every bound');
  t.equal(bucket('+Inf'), 5);
  t.equal(line(text, 'gatehouse_upstream_duration_seconds_count'), 5);
  t.ok(Math.abs(line(text, 'gatehouse_upstream_duration_seconds_sum')! - 45.0074) < 1e-9, 'sum');
  t.match(text, /# TYPE gatehouse_upstream_duration_seconds histogram/);
});

t.test('requests per realm and outcome are totals across scrapes', async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  metrics.request('agent', 'forwarded');
  metrics.request('agent', 'forwarded');
  metrics.request('-', 'public');
  const first = await metrics.render();
  t.equal(line(first, 'gatehouse_requests_total{realm="agent",outcome="forwarded"}'), 2);
  t.equal(line(first, 'gatehouse_requests_total{realm="-",outcome="public"}'), 1);
  metrics.request('agent', 'forwarded');
  metrics.request('user', 'redirected');
  const second = await metrics.render();
  t.equal(line(second, 'gatehouse_requests_total{realm="agent",outcome="forwarded"}'), 3, 'a second scrape sees the total, not the increase');
  t.equal(line(second, 'gatehouse_requests_total{realm="user",outcome="redirected"}'), 1);
  t.equal(line(second, 'gatehouse_requests_total{realm="-",outcome="public"}'), 1);
});
