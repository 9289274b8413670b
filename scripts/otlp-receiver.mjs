#!/usr/bin/env node
// A small OTLP/HTTP trace receiver: POST /v1/traces with an ExportTraceServiceRequest in protobuf
// (the encoding authmesh's exporter and Envoy's OpenTelemetry tracer send), decoded with the
// opentelemetry-proto definitions (scripts/otlp-protos.sh install), answered 200 with an empty
// ExportTraceServiceResponse (OTLP §"OTLP/HTTP Response"). Enough to see a trace on one machine;
// in production point OTEL_EXPORTER_OTLP_ENDPOINT at a Collector, Jaeger or Tempo instead.
//
//   node scripts/otlp-receiver.mjs [port]      (default 4318, on 127.0.0.1)
// prints each trace, once no span of it arrived for a second, as a tree:
//   trace 6d3639a4…  (7 spans)
//     authmesh-embedded  server  POST /oauth2/token  9.9 ms
//       authmesh-embedded  server  authmesh.token.v1.TokenService/Token  4.4 ms
//       …
// Tests import startOtlpReceiver and read the decoded spans.
import { createServer } from 'node:http';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protoLoader from '@grpc/proto-loader';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OTLP_PROTO_DIR = join(ROOT, '.tools', 'otlp-proto');
const SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const MAX_BODY = 16 * 1024 * 1024;

/** Whether the .proto files are installed, else what to run. */
export function otlpProtosMissing(protoDir = OTLP_PROTO_DIR) {
  return existsSync(join(protoDir, SERVICE_PROTO)) ? undefined : `the OTLP .proto files are not in ${protoDir}: run scripts/otlp-protos.sh install`;
}

function loadDecoder(protoDir) {
  const missing = otlpProtosMissing(protoDir);
  if (missing) throw new Error(missing);
  const def = protoLoader.loadSync(SERVICE_PROTO, { includeDirs: [protoDir], longs: String, enums: String, defaults: false, oneofs: true });
  return def['opentelemetry.proto.collector.trace.v1.TraceService'].Export.requestDeserialize;
}

/** An AnyValue as a plain JS value. */
function anyValue(v) {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue) return attributes(v.kvlistValue.values);
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('hex');
  return undefined;
}

function attributes(list) {
  return Object.fromEntries((list ?? []).map((kv) => [kv.key, anyValue(kv.value)]));
}

const hex = (b) => (b && b.length > 0 ? Buffer.from(b).toString('hex') : undefined);

/**
 * Flattens an ExportTraceServiceRequest into spans:
 * { traceId, spanId, parentSpanId?, name, kind, service, attributes, resource, startNs, endNs, status }.
 */
export function flattenExport(request) {
  const out = [];
  for (const rs of request.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name,
          kind: s.kind,
          service: resource['service.name'],
          attributes: attributes(s.attributes),
          resource,
          startNs: BigInt(s.startTimeUnixNano ?? 0),
          endNs: BigInt(s.endTimeUnixNano ?? 0),
          status: s.status?.code ?? 'STATUS_CODE_UNSET',
        });
      }
    }
  }
  return out;
}

/**
 * Starts the receiver on host:port (port 0: a free one).
 * keepBodies: also keep each accepted export's protobuf bytes (after gzip), so a test can search
 * everything that was sent — names, attributes with repeated keys, events, resources — not only
 * what flattenExport keeps.
 * @returns { url, port, spans (every span received, in arrival order), bodies (with keepBodies,
 *   else empty), onSpans(listener), close() }
 */
export async function startOtlpReceiver({ host = '127.0.0.1', port = 4318, protoDir = OTLP_PROTO_DIR, keepBodies = false } = {}) {
  const decode = loadDecoder(protoDir);
  const spans = [];
  const bodies = [];
  const listeners = new Set();
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(c);
    });
    req.on('end', () => {
      let batch;
      let body = Buffer.concat(chunks);
      try {
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        if (!String(req.headers['content-type'] ?? '').startsWith('application/x-protobuf')) throw new Error('only application/x-protobuf is accepted');
        batch = flattenExport(decode(body));
      } catch (err) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err instanceof Error ? err.message : err));
        return;
      }
      if (keepBodies) bodies.push(body);
      spans.push(...batch);
      for (const l of listeners) l(batch);
      // An empty ExportTraceServiceResponse: full success.
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' }).end();
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const bound = server.address().port;
  return {
    url: `http://${host}:${bound}`,
    port: bound,
    spans,
    bodies,
    onSpans(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => new Promise((resolve) => server.close(() => resolve(undefined))),
  };
}

/** A trace's spans as indented lines, parents before children (orphans at the top level). */
export function formatTrace(spans) {
  const byParent = new Map();
  const ids = new Set(spans.map((s) => s.spanId));
  for (const s of spans) {
    const p = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : '';
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(s);
  }
  const lines = [];
  const walk = (parent, depth) => {
    for (const s of (byParent.get(parent) ?? []).sort((a, b) => (a.startNs < b.startNs ? -1 : 1))) {
      const ms = Number(s.endNs - s.startNs) / 1e6;
      const kind = String(s.kind).replace('SPAN_KIND_', '').toLowerCase();
      lines.push(`${'  '.repeat(depth + 1)}${s.service ?? '?'}  ${kind}  ${s.name}  ${ms.toFixed(1)} ms`);
      walk(s.spanId, depth + 1);
    }
  };
  walk('', 0);
  return lines;
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const port = Number(process.argv[2] ?? 4318);
  try {
    const receiver = await startOtlpReceiver({ port });
    console.log(`OTLP/HTTP receiver on ${receiver.url}/v1/traces: set OTEL_EXPORTER_OTLP_ENDPOINT=${receiver.url}`);
    const pending = new Map();
    receiver.onSpans((batch) => {
      for (const s of batch) {
        const t = pending.get(s.traceId) ?? { spans: [], timer: undefined };
        t.spans.push(s);
        clearTimeout(t.timer);
        t.timer = setTimeout(() => {
          pending.delete(s.traceId);
          console.log(`trace ${s.traceId}  (${t.spans.length} spans)`);
          for (const line of formatTrace(t.spans)) console.log(line);
        }, 1_000);
        pending.set(s.traceId, t);
      }
    });
    const stop = () => void receiver.close().then(() => process.exit(0));
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  } catch (err) {
    console.error(`otlp-receiver: ${err instanceof Error ? err.message : err}`);
    process.exit(1);
  }
}
