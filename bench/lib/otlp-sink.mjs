// Where the bench's traced gateway sends its spans: an OTLP/HTTP endpoint on
// loopback that reads every export, counts it and answers as a collector does
// (200, an empty ExportTraceServiceResponse). It does not decode the spans
// (test/helpers/otlp-receiver.ts does, for the tests) but counts them by their
// "spanId" keys, so the report can say whether the SDK dropped any: its own
// CPU, in the bench script's process on the load generator's CPU, is kept small.
import { createServer } from 'node:http';

export async function startOtlpSink() {
  const seen = { exports: 0, bytes: 0, spans: 0 };
  const key = Buffer.from('"spanId":"');
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.bytes += body.length;
      for (let at = body.indexOf(key); at >= 0; at = body.indexOf(key, at + key.length)) seen.spans++;
      seen.exports++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/v1/traces`,
    seen,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
