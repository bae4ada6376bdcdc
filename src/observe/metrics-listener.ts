/**
 * The optional listener of its own for Prometheus (`metrics.listen`), so metrics
 * need not be on the public port: it answers GET /metrics (and
 * /.gatehouse/metrics, for scrape configs written for the public port) and
 * nothing else. In a cluster it runs in the primary, which aggregates every
 * worker; otherwise in the gateway process. Loads only node:http.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsListener {
  readonly url: string;
  close(): Promise<void>;
}

export type RenderMetrics = () => Promise<{ contentType: string; body: string }>;

export async function startMetricsListener(options: {
  host: string;
  port: number;
  render: RenderMetrics;
  onError?: (error: Error) => void;
}): Promise<MetricsListener> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if ((path !== '/metrics' && path !== '/.gatehouse/metrics') || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n');
      return;
    }
    options.render().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      },
      (error: unknown) => {
        options.onError?.(error as Error);
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
