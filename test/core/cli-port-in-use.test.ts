// Issue 15, item 9: a port already in use (demo or serve) in words: which
// port, who holds it, how to choose another, and no stack trace. Exact text
// and exit codes.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { startDemoProvider } from '../../src/demo/provider.js';
import { minimalYaml, runCli, tempDir, writeFile } from '../helpers/ops.js';

/** a port this test holds, so that the gateway cannot have it */
async function holdPort(t: { teardown(fn: () => void): void }): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => server.close());
  return (server.address() as { port: number }).port;
}

t.test('demo on a port already in use: which port, who holds it, how to choose another; no stack trace', async (t) => {
  const port = await holdPort(t);
  const result = await runCli(['demo'], { env: { GATEHOUSE_DEMO_PORT: String(port) } });
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `gatehouse demo: port ${port} on 127.0.0.1 is already in use by process ${process.pid} (${readFileSync('/proc/self/comm', 'utf8').trim()}): stop that, or choose another port with GATEHOUSE_DEMO_PORT, e.g. GATEHOUSE_DEMO_PORT=${port + 1} npm run demo\n`,
  );
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
});

t.test('serve on a port already in use: the same, pointing at listen.port', async (t) => {
  const provider = await startDemoProvider({ port: 0, clients: [] });
  t.teardown(() => provider.close());
  const port = await holdPort(t);
  const file = writeFile(
    tempDir(t),
    'gateway.yaml',
    minimalYaml({ issuer: provider.issuer, publicUrl: `http://127.0.0.1:${port}`, extra: `listen: {host: 127.0.0.1, port: ${port}}\nlog: {level: error}\n` }),
  );
  const result = await runCli(['serve', '--config', file]);
  t.equal(result.code, 1);
  t.equal(
    result.stderr,
    `gatehouse: port ${port} on 127.0.0.1 is already in use by process ${process.pid} (${readFileSync('/proc/self/comm', 'utf8').trim()}): stop that, or choose another port with listen.port (or listen.host) in ${file}\n`,
  );
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
});
