// The tracing decorators keep the backends' behaviour (the Store and Grid contract suites run on
// the wrapped implementations) and record spans that name the operation, never its arguments.
import { Metadata } from '@grpc/grpc-js';
import { context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { createMemoryGrid } from '../grid/memory-grid.js';
import { describeGridContract } from '../grid/grid-contract.js';
import { createPgliteStore } from '../store/index.js';
import { describeStoreContract } from '../store/store-contract.js';
import { defaultServiceName, injectTraceContext, inRpcServerSpan, inSpan, requestLogIds, startTelemetry, traceGrid, traceStore, tracingActive, tracingDecision } from './index.js';

const exporter = new InMemorySpanExporter();
startTelemetry('authmesh-test', { spanProcessors: [new SimpleSpanProcessor(exporter)] });

describeStoreContract('pglite, traced', async () => traceStore(await createPgliteStore({ thread: 'main' })));
describeGridContract('memory grid, traced', async () => ({ grid: traceGrid(createMemoryGrid()), ttlMs: 100, expirySlackMs: 50 }));

describe('tracing decorators', () => {
  it('a grid operation inside an RPC span is its child and carries no key or value', async () => {
    expect(tracingActive()).toBe(true);
    exporter.reset();
    const grid = traceGrid(createMemoryGrid());
    const SECRET_KEY = 'code-hash-PLANTED-4f1c9e';
    const SECRET_VALUE = 'refresh-token-PLANTED-77aa';
    await inRpcServerSpan(
      '/authmesh.token.v1.TokenService/Token',
      new Metadata(),
      async () => {
        await grid.map<string>('codes').set(SECRET_KEY, SECRET_VALUE, 60_000);
        expect(await grid.map<string>('codes').take(SECRET_KEY)).toBe(SECRET_VALUE);
        return 0;
      },
      (code) => code,
    );
    const spans = exporter.getFinishedSpans();
    const rpc = spans.find((s) => s.name === 'authmesh.token.v1.TokenService/Token')!;
    expect(rpc.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'authmesh.token.v1.TokenService', 'rpc.method': 'Token', 'rpc.grpc.status_code': 0 });
    const gridSpans = spans.filter((s) => s.name.startsWith('grid.'));
    expect(gridSpans.map((s) => s.name)).toEqual(['grid.set', 'grid.take']);
    for (const s of gridSpans) {
      expect(s.spanContext().traceId).toBe(rpc.spanContext().traceId);
      expect(s.parentSpanContext?.spanId).toBe(rpc.spanContext().spanId);
      expect(s.attributes).toEqual({ 'authmesh.grid.map': 'codes' });
    }
    expect(JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events]))).not.toMatch(/PLANTED/);
  });

  it('a failing operation marks its span as an error with the error type only, and rethrows', async () => {
    exporter.reset();
    const SECRET = 'client-secret-PLANTED-0d9e';
    await expect(inSpan('store.clients.get', {}, async () => Promise.reject(new Error(`bad ${SECRET}`)))).rejects.toThrow(SECRET);
    const [span] = exporter.getFinishedSpans();
    expect(span?.status.code).toBe(2);
    expect(span?.attributes).toEqual({ 'error.type': 'Error' });
  });

  it('the RPC span continues the trace the caller sent in its metadata, and outgoing metadata carries the active span', async () => {
    exporter.reset();
    const md = new Metadata();
    md.set('traceparent', '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    let outgoing: Metadata | undefined;
    await inRpcServerSpan('/authmesh.key.v1.KeyService/SignJwt', md, async () => {
      outgoing = new Metadata();
      injectTraceContext(outgoing);
      return 0;
    }, () => 0);
    const [span] = exporter.getFinishedSpans();
    expect(span?.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(span?.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
    expect(outgoing?.get('traceparent')).toEqual([`00-0af7651916cd43dd8448eb211c80319c-${span?.spanContext().spanId}-01`]);
  });

  it('a malformed traceparent from a caller starts a new trace and never fails the call', async () => {
    const bad = ['garbage', `00-${'0'.repeat(32)}-b7ad6b7169203331-01`, `ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01`, `00-${'A'.repeat(32)}-b7ad6b7169203331-01`, `00-0af7651916cd43dd8448eb211c80319c-${'x'.repeat(5000)}-01`];
    for (const value of bad) {
      exporter.reset();
      const md = new Metadata();
      md.set('traceparent', value);
      md.set('tracestate', 'k=v,'.repeat(5000));
      await expect(inRpcServerSpan('/authmesh.key.v1.KeyService/GetJwks', md, async () => 0, () => 0)).resolves.toBe(0);
      const [span] = exporter.getFinishedSpans();
      expect(span?.parentSpanContext).toBeUndefined();
      expect(span?.spanContext().traceId).not.toMatch(/^0+$|0af7651916cd43dd8448eb211c80319c/);
    }
  });

  it('log ids are the active span\'s when tracing is on', () => {
    const span = trace.getTracer('t').startSpan('x');
    const ids = context.with(trace.setSpan(context.active(), span), () => requestLogIds(undefined));
    span.end();
    expect(ids).toEqual({ trace_id: span.spanContext().traceId, span_id: span.spanContext().spanId });
  });
});

describe('tracingDecision: off by default, on with an OTLP endpoint', () => {
  it('is off with no endpoint, with OTEL_SDK_DISABLED=true and with OTEL_TRACES_EXPORTER=none', () => {
    expect(tracingDecision({}).enabled).toBe(false);
    expect(tracingDecision({ OTEL_TRACES_EXPORTER: 'otlp' }).enabled).toBe(false);
    expect(tracingDecision({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(tracingDecision({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318', OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
  });
  it('is on with either endpoint variable', () => {
    expect(tracingDecision({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' })).toEqual({ enabled: true, endpoint: 'http://127.0.0.1:4318' });
    expect(tracingDecision({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }).enabled).toBe(true);
  });
  it('refuses what it cannot honour, naming the variable', () => {
    const e = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' };
    expect(() => tracingDecision({ ...e, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(/OTEL_EXPORTER_OTLP_PROTOCOL=grpc/);
    expect(() => tracingDecision({ ...e, OTEL_TRACES_EXPORTER: 'zipkin' })).toThrow(/OTEL_TRACES_EXPORTER/);
    expect(() => tracingDecision({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toThrow(/not a URL/);
  });
});

describe('defaultServiceName: authmesh-<service or group> per process', () => {
  it('names the embedded process, one service, a group and the gateway alone', () => {
    expect(defaultServiceName(['client', 'service', 'user', 'key', 'code', 'token', 'refresh-token'], true, 7)).toBe('authmesh-embedded');
    expect(defaultServiceName(['token'], false, 7)).toBe('authmesh-token');
    expect(defaultServiceName(['token', 'client', 'key'], false, 7)).toBe('authmesh-token-client-key');
    expect(defaultServiceName([], true, 7)).toBe('authmesh-gateway');
  });
});
