// metrics.listen: metrics on a listener of their own (loopback by default),
// /.gatehouse/metrics then 404 on the public port (plain http too), and the
// listener serves nothing but metrics. Without metrics.listen, with workers: 2,
// /.gatehouse/metrics on the public port is one scrape of both workers.
import t from 'tap';
import { request } from 'node:http';
import { demoClients, demoYaml } from '../../src/demo/stack.js';
import { claimPort } from '../helpers/ports.js';
import { startDemoProvider, DEMO_ACCOUNTS } from '../../src/demo/provider.js';
import { startUpstream } from '../helpers/upstream.js';
import { spawnServe, tempDir, writeFile } from '../helpers/ops.js';
import { startTestStack } from '../helpers/stack.js';

function value(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/** GET on a connection of its own; returns status and the x-request-id prefix (which process answered). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('one process with metrics.listen: metrics there only', async (t) => {
  const metricsPort = claimPort().port;
  const stack = await startTestStack({ editYaml: (y) => `${y}metrics:\n  listen:\n    port: ${metricsPort}\n` });
  t.teardown(() => stack.close());
  t.equal(stack.gateway.metricsUrl, `http://127.0.0.1:${metricsPort}`, 'bound to loopback by default');
  for (let i = 0; i < 3; i++) await get(`${stack.publicUrl}/favicon.ico`);
  const scrape = await get(`${stack.gateway.metricsUrl}/metrics`);
  t.equal(scrape.status, 200);
  t.equal(value(scrape.body, 'gatehouse_requests_total{realm="-",outcome="public"}'), 3, 'the requests are counted');
  t.match(scrape.body, /gatehouse_process_resident_memory_bytes/);
  t.equal((await get(`${stack.gateway.metricsUrl}/.gatehouse/metrics`)).status, 200, 'the public path works on the listener too');
  t.equal((await get(`${stack.gateway.metricsUrl}/.gatehouse/readyz`)).status, 404, 'nothing but metrics on the listener');
  const publicScrape = await get(`${stack.publicUrl}/.gatehouse/metrics`);
  t.equal(publicScrape.status, 404, '/.gatehouse/metrics is off on the public port');
  t.notMatch(publicScrape.body, /gatehouse_/);
});

t.test('workers: 2 without metrics.listen: /.gatehouse/metrics on the public port counts both workers', async (t) => {
  const publicUrl = `http://127.0.0.1:${claimPort().port}`;
  const provider = await startDemoProvider({ port: 0, clients: demoClients(publicUrl), accounts: DEMO_ACCOUNTS });
  t.teardown(() => provider.close());
  const upstream = await startUpstream();
  t.teardown(() => upstream.close());
  const yaml = `${demoYaml(publicUrl, provider.issuer, upstream.url)}workers: 2\n`;
  const serve = spawnServe(writeFile(tempDir(t), 'gateway.yaml', yaml), { GATEHOUSE_DEMO_SECRET: 'a-demo-secret-of-at-least-32-characters-0123' });
  t.teardown(() => serve.kill());
  await serve.waitForLog((l) => l.msg === 'gatehouse listening' && serve.lines.filter((x) => x.msg === 'gatehouse listening').length >= 2, 30_000);
  for (let i = 0; i < 10; i++) await get(`${publicUrl}/favicon.ico`);
  const workers = new Set(upstream.requests.map((r) => String(r.headers['x-request-id']).split('-')[0]));
  t.equal(workers.size, 2, 'both workers forwarded');
  for (let i = 0; i < 4; i++) {
    // each scrape is answered by one worker (new connections: both in turn), and each shows the whole gateway
    const scrape = await get(`${publicUrl}/.gatehouse/metrics`);
    t.equal(value(scrape.body, 'gatehouse_requests_total{realm="-",outcome="public"}'), 10, `scrape ${i + 1} counts all 10 requests`);
  }
});
