// A real OTLP/HTTP traces receiver on 127.0.0.1:0, as a collector is one: it
// takes POST /v1/traces, decodes the OTLP/JSON ExportTraceServiceRequest the SDK's
// exporter sends (gzip or not), answers ExportTraceServiceResponse, and keeps
// every span with its resource. Tests wait on what arrives, never on time.
//
// OTLP/JSON (opentelemetry-proto, "JSON Protobuf Encoding"): trace and span ids
// are hex strings, enum values (kind, status code) are integers, 64-bit integers
// (timestamps, intValue) may come as numbers or as decimal strings.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue = string | number | boolean | AttributeValue[] | { [key: string]: AttributeValue } | null;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** '' for a root span */
  parentSpanId: string;
  name: string;
  kind: 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** ns since the epoch */
  start: bigint;
  end: bigint;
  attributes: Record<string, AttributeValue>;
  links: Array<{ traceId: string; spanId: string; traceState: string; attributes: Record<string, AttributeValue> }>;
  status: 'unset' | 'ok' | 'error';
  traceState: string;
  scope: { name: string; version: string };
  resource: Record<string, AttributeValue>;
}

export interface OtlpReceiver {
  /** the traces URL to configure as observe.tracing.otlp_endpoint */
  url: string;
  spans: ReceivedSpan[];
  /** export requests received (each answered 200) */
  exports: number;
  /** every request body as it came, decoded to text (for "no secret anywhere" checks) */
  bodies: string[];
  /** resolves with the spans once `ready(spans)` is true (checked now and at every export) */
  waitFor(ready: (spans: ReceivedSpan[]) => boolean): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

const KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
const STATUSES = ['unset', 'ok', 'error'] as const;

type Json = Record<string, unknown>;

function anyValue(value: Json | undefined): AttributeValue {
  if (value === undefined) return null;
  if ('stringValue' in value) return String(value.stringValue);
  if ('boolValue' in value) return Boolean(value.boolValue);
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('arrayValue' in value) return (((value.arrayValue as Json).values as Json[] | undefined) ?? []).map(anyValue);
  if ('kvlistValue' in value) return attributes((value.kvlistValue as Json).values as Json[] | undefined);
  if ('bytesValue' in value) return String(value.bytesValue);
  return null;
}

function attributes(list: Json[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of list ?? []) out[String(kv.key)] = anyValue(kv.value as Json | undefined);
  return out;
}

/** Decode one ExportTraceServiceRequest (OTLP/JSON). Throws on what is not one. */
export function decodeTraces(body: string): ReceivedSpan[] {
  const request = JSON.parse(body) as { resourceSpans?: Json[] };
  if (!Array.isArray(request.resourceSpans)) throw new Error('not an ExportTraceServiceRequest: no resourceSpans');
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans) {
    const resource = attributes((rs.resource as Json | undefined)?.attributes as Json[] | undefined);
    for (const ss of (rs.scopeSpans as Json[] | undefined) ?? []) {
      const scope = (ss.scope as Json | undefined) ?? {};
      for (const span of (ss.spans as Json[] | undefined) ?? []) {
        for (const id of ['traceId', 'spanId'] as const) if (!/^[0-9a-f]+$/i.test(String(span[id]))) throw new Error(`${id} is not hex: ${String(span[id])}`);
        out.push({
          traceId: String(span.traceId).toLowerCase(),
          spanId: String(span.spanId).toLowerCase(),
          parentSpanId: String(span.parentSpanId ?? '').toLowerCase(),
          name: String(span.name),
          kind: KINDS[Number(span.kind ?? 0)] ?? 'unspecified',
          start: BigInt(String(span.startTimeUnixNano ?? 0)),
          end: BigInt(String(span.endTimeUnixNano ?? 0)),
          attributes: attributes(span.attributes as Json[] | undefined),
          links: ((span.links as Json[] | undefined) ?? []).map((l) => ({
            traceId: String(l.traceId).toLowerCase(),
            spanId: String(l.spanId).toLowerCase(),
            traceState: String(l.traceState ?? ''),
            attributes: attributes(l.attributes as Json[] | undefined),
          })),
          status: STATUSES[Number((span.status as Json | undefined)?.code ?? 0)] ?? 'unset',
          traceState: String(span.traceState ?? ''),
          scope: { name: String(scope.name ?? ''), version: String(scope.version ?? '') },
          resource,
        });
      }
    }
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const waiters: Array<{ ready: (spans: ReceivedSpan[]) => boolean; resolve: (spans: ReceivedSpan[]) => void }> = [];
  let exports = 0;
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    readBody(req).then(
      (raw) => {
        let decoded: ReceivedSpan[];
        try {
          const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
          if (!String(req.headers['content-type']).startsWith('application/json'))
            throw new Error(`content-type ${String(req.headers['content-type'])}: only OTLP/JSON is decoded here`);
          decoded = decodeTraces(text);
          bodies.push(text);
        } catch (error) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 3, message: (error as Error).message }));
          return;
        }
        exports++;
        spans.push(...decoded);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        for (const waiter of [...waiters]) {
          if (!waiter.ready(spans)) continue;
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(spans);
        }
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    bodies,
    get exports() {
      return exports;
    },
    waitFor(ready) {
      if (ready(spans)) return Promise.resolve(spans);
      return new Promise((resolve) => waiters.push({ ready, resolve }));
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
