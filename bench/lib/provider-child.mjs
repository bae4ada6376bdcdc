// The demo OpenID Provider in a process of its own, for benches that measure
// the gateway in-process: oidc-provider keeps its request context in an
// AsyncLocalStorage, and once that is in use every promise in the process pays
// for async hooks — a cost the gateway in production does not have.
//
//   node bench/lib/provider-child.mjs PUBLIC_URL   (prints {"issuer": ...} once it listens; SIGTERM stops it)
import { join } from 'node:path';
import { REPO } from './gatehouse.mjs';

const { startDemoProvider, DEMO_ACCOUNTS } = await import(join(REPO, 'dist', 'demo', 'provider.js'));
const { demoClients } = await import(join(REPO, 'dist', 'demo', 'stack.js'));
const provider = await startDemoProvider({ port: 0, clients: demoClients(process.argv[2]), accounts: DEMO_ACCOUNTS });
process.stdout.write(`${JSON.stringify({ issuer: provider.issuer })}\n`);
process.on('SIGTERM', () => {
  provider.close().finally(() => process.exit(0));
});
