import t from 'tap';
import { startDemoStack } from '../../src/demo/stack.js';
import { signIn, fetchWithJar } from '../helpers/browserless.js';

t.test('agent signs in through the demo stack', async (t) => {
  const stack = await startDemoStack({ logger: (await import('../../src/observe/log.js')).createLogger({ level: 'warn', format: 'json' }) });
  t.teardown(() => stack.close());
  const flow = await signIn(`${stack.publicUrl}/agent/tickets/42?tab=notes`, { username: 'alice', password: 'alice-demo' });
  console.log(flow.hops, flow.final.status, flow.final.body.slice(0, 3000));
  t.equal(flow.final.status, 200);
});
