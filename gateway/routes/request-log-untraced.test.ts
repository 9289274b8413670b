// Issue 16, logs with tracing off (no OTLP endpoint, the default): every request's line still
// carries a request_id unique across processes, and the trace id of a valid traceparent the caller
// sent (Envoy with tracing on), so the edge's trace finds the line; never span ids of its own.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../services/core/log/index.js';
import { traceGrid, traceStore, tracingActive } from '../../services/core/telemetry/index.js';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.js';
import { basicAuth, createFixtures, postForm, type Fixtures } from './route-test-support.js';

describe('request log lines with tracing off', () => {
  let t: TestGateway;
  let f: Fixtures;
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });

  beforeAll(async () => {
    t = await startTestGateway({}, { log: createLogger({ level: 'info', destination }) });
    f = await createFixtures(t);
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  const lineOf = async (msg: string, send: () => Promise<Response>) => {
    const before = lines.length;
    await (await send()).arrayBuffer();
    for (let i = 0; i < 100 && !lines.slice(before).some((l) => l.msg === msg); i++) await new Promise((r) => setTimeout(r, 10));
    return lines.slice(before).filter((l) => l.msg === msg);
  };

  it('the store and grid are used as they are: no tracing decorator stands in the hot path', () => {
    expect(traceStore(t.store)).toBe(t.store);
    const grid = t.mesh.deps.grid;
    expect(traceGrid(grid)).toBe(grid);
  });

  it('a request without traceparent: a request_id on the http line and on each rpc line, no trace or span id', async () => {
    expect(tracingActive()).toBe(false);
    const before = lines.length;
    const http = await lineOf('http', () => postForm(`${t.baseUrl}/oauth2/token`, 'grant_type=client_credentials', { authorization: basicAuth(f.basic.id, f.basic.secret) }));
    expect(http).toHaveLength(1);
    const rpc = lines.slice(before).filter((l) => l.msg === 'rpc');
    expect(rpc.length).toBeGreaterThan(0);
    for (const l of [...http, ...rpc]) {
      expect(l.request_id).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      expect(l.trace_id).toBeUndefined();
      expect(l.span_id).toBeUndefined();
    }
    expect(new Set([...http, ...rpc].map((l) => l.request_id)).size).toBe(http.length + rpc.length);
  });

  it("a request with a valid traceparent: its trace id on the http line; an invalid one is ignored", async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const [valid] = await lineOf('http', () => fetch(`${t.baseUrl}/.well-known/openid-configuration`, { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } }));
    expect(valid?.trace_id).toBe(traceId);
    expect(valid?.request_id).toBeDefined();
    const [invalid] = await lineOf('http', () => fetch(`${t.baseUrl}/.well-known/openid-configuration`, { headers: { traceparent: `00-${traceId}-not-a-span-01` } }));
    expect(invalid?.trace_id).toBeUndefined();
  });
});
