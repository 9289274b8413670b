// Envoy traces exactly when the services do (issue 16): scripts/envoy-render.mjs derives the
// tracing block's cluster and URL from the same OTEL_* variables, with the same off rules.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderEnvoyConfig, withOtlpVariables } from '../scripts/envoy-render.mjs';
import { repoRoot } from '../services/core/rpc/index.js';

const template = readFileSync(join(repoRoot, 'envoy', 'envoy.yaml'), 'utf8');
const base: Record<string, string> = {
  AUTHMESH_ISSUER: 'http://127.0.0.1:10000',
  AUTHMESH_ENVOY_DESCRIPTOR: '/srv/descriptor.binpb',
  AUTHMESH_SAMPLE_API_AUDIENCE: 'https://sample-api.authmesh.test',
  AUTHMESH_GATEWAY_UPSTREAMS: '127.0.0.1:8080',
  AUTHMESH_SAMPLE_API_UPSTREAMS: '127.0.0.1:8090',
  ...Object.fromEntries(['CLIENT', 'SERVICE', 'USER', 'KEY', 'CODE', 'TOKEN', 'REFRESH_TOKEN'].map((s) => [`AUTHMESH_${s}_UPSTREAMS`, '127.0.0.1:50051'])),
};

describe('Envoy tracing from the OTEL_* variables', () => {
  it('is off without an endpoint, with OTEL_SDK_DISABLED=true and with OTEL_TRACES_EXPORTER=none', () => {
    expect(renderEnvoyConfig(template, base)).not.toContain('envoy.tracers.opentelemetry');
    expect(renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).not.toContain('otlp_collector');
    expect(renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).not.toContain('otlp_collector');
  });

  it('a base endpoint gets /v1/traces; a traces endpoint is used as is; the cluster points at its host and port', () => {
    const fromBase = renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.internal:4318/' });
    expect(fromBase).toContain('name: envoy.tracers.opentelemetry');
    expect(fromBase).toContain('uri: "http://collector.internal:4318/v1/traces", cluster: otlp_collector');
    expect(fromBase).toContain('{ endpoint: { address: { socket_address: { address: collector.internal, port_value: 4318 } } } }');
    expect(fromBase).toContain('service_name: authmesh-envoy');
    const fromTraces = renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://127.0.0.1:9411/custom/path' });
    expect(fromTraces).toContain('uri: "http://127.0.0.1:9411/custom/path"');
  });

  it('refuses an endpoint Envoy cannot reach as configured (https, not a URL), naming the variable', () => {
    expect(() => renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: Envoy exports traces over http:\/\/ only/);
    expect(() => renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'collector' })).toThrow(/OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is not a URL/);
  });

  it("review F2: the tracing block replaces Envoy's http.url with scheme, host and path, never the query (tracing-envoy.test.ts runs it)", () => {
    const traced = renderEnvoyConfig(template, { ...base, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.internal:4318' });
    const tracing = traced.slice(traced.indexOf('tracing:'), traced.indexOf('envoy.tracers.opentelemetry'));
    expect(tracing).toMatch(/- tag: http\.url\s+value: "%REQ\(X-FORWARDED-PROTO\)%:\/\/%REQ\(:AUTHORITY\)%%PATH\(NQ:ORIG_OR_PATH\):256%"/);
  });

  it('an explicit AUTHMESH_ENVOY_OTLP_ENDPOINT wins', () => {
    expect(withOtlpVariables({ AUTHMESH_ENVOY_OTLP_ENDPOINT: 'a:1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:2' }).AUTHMESH_ENVOY_OTLP_ENDPOINT).toBe('a:1');
  });
});
