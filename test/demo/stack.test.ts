// startStack, the one way stacks are put together: the gateway serves on the
// socket bound before its config (the port in public_url is the port that
// answers), and a stack that fails half-way stops everything it started,
// its public socket included.
import t from 'tap';
import { connect } from 'node:net';
import { demoYaml, serveGateway, startStack } from '../../src/demo/stack.js';
import { startUpstream } from '../helpers/upstream.js';
import { startFakeProvider } from '../helpers/ops.js';
import { captureLogger } from '../helpers/stack.js';

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });

t.test('the gateway answers on the port public_url names', async (t) => {
  const stack = await startStack({
    file: '(stack test)',
    provider: () => startFakeProvider(),
    upstream: () => startUpstream(),
    yaml: (publicUrl, provider, upstream) => demoYaml(publicUrl, provider.issuer, upstream.url),
    env: { GATEHOUSE_DEMO_SECRET: 'a-session-secret-for-the-stack-test-0123456789' },
    serve: serveGateway({ logger: captureLogger().logger }),
  });
  let closed = false;
  t.teardown(() => (closed ? undefined : stack.close()));
  t.equal(stack.served.port, Number(new URL(stack.publicUrl).port), 'the socket bound first is the one served');
  t.equal((await fetch(`${stack.publicUrl}/.gatehouse/healthz`)).status, 200);
  await stack.close();
  closed = true;
  t.ok(await refused(stack.served.port), 'closed with the stack');
});

t.test('a stack whose config does not load stops what it started, its public socket too', async (t) => {
  const closed: string[] = [];
  let publicPort = 0;
  await t.rejects(
    startStack({
      file: '(stack test)',
      provider: async () => {
        const provider = await startFakeProvider();
        return {
          issuer: provider.issuer,
          close: () => {
            closed.push('provider');
            return provider.close();
          },
        };
      },
      upstream: async () => {
        const upstream = await startUpstream();
        return {
          url: upstream.url,
          close: () => {
            closed.push('upstream');
            return upstream.close();
          },
        };
      },
      yaml: (publicUrl, provider, upstream) => {
        publicPort = Number(new URL(publicUrl).port);
        return demoYaml(publicUrl, provider.issuer, upstream.url);
      },
      env: {}, // GATEHOUSE_DEMO_SECRET unset: a configuration error
      serve: serveGateway({ logger: captureLogger().logger }),
    }),
    { name: 'ConfigError' },
  );
  t.same(closed.sort(), ['provider', 'upstream'], 'provider and upstream stopped');
  t.ok(publicPort > 0 && (await refused(publicPort)), 'the public socket is closed');
});
