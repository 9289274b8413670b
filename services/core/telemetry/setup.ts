// OpenTelemetry tracing for one process, off unless an OTLP endpoint is configured. When it is
// off nothing is registered: the API's no-op tracer stays in place and every instrumented choke
// point (spans.ts) takes one boolean test and goes on. When it is on: a tracer provider exporting
// OTLP over HTTP/protobuf (the spec's default OTLP protocol, which Jaeger, Tempo and the
// Collector all accept), W3C trace context propagation, and an AsyncLocalStorage context manager
// so the active span follows awaits (and the in-process transport's calls) inside the process.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { setTracingActive } from './spans.js';

/** Why tracing is off or on, from the OTEL_* variables (see tracingDecision). */
export type TracingDecision = { enabled: false; reason: string } | { enabled: true; endpoint: string };

/** A tracing configuration the process cannot honour (exit status 2 at start, like ConfigError). */
export class TelemetryConfigError extends Error {}

/**
 * Whether this process traces, by these rules (the spec's defaults, except that no endpoint
 * means off):
 * - OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER=none: off;
 * - otherwise on when OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set
 *   (non-empty), off when neither is;
 * - OTEL_TRACES_EXPORTER other than otlp/none, or an OTLP protocol other than http/protobuf
 *   (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL) with tracing on: a
 *   TelemetryConfigError naming the variable, never a silent fallback.
 * @returns the decision and, when on, the endpoint the exporter will send to (for the banner)
 */
export function tracingDecision(env: NodeJS.ProcessEnv = process.env): TracingDecision {
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') return { enabled: false, reason: 'OTEL_SDK_DISABLED=true' };
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  if (exporters.includes('none')) return { enabled: false, reason: 'OTEL_TRACES_EXPORTER=none' };
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (!endpoint) return { enabled: false, reason: 'no OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' };
  const unsupported = exporters.filter((e) => e !== 'otlp');
  if (unsupported.length > 0) throw new TelemetryConfigError(`OTEL_TRACES_EXPORTER=${env.OTEL_TRACES_EXPORTER}: only "otlp" (or "none") is supported`);
  for (const name of ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'] as const) {
    const v = env[name];
    if (v && v.trim() !== 'http/protobuf') throw new TelemetryConfigError(`${name}=${v}: only "http/protobuf" is supported (point it at the receiver's OTLP/HTTP port, usually 4318)`);
  }
  try {
    new URL(endpoint);
  } catch {
    throw new TelemetryConfigError(`OTLP endpoint ${JSON.stringify(endpoint)} is not a URL (e.g. http://127.0.0.1:4318)`);
  }
  return { enabled: true, endpoint };
}

export interface Telemetry {
  /** Exports every span ended so far (tests, before reading the receiver). */
  forceFlush(): Promise<void>;
  /** Exports what is buffered and stops the provider; idempotent. */
  shutdown(): Promise<void>;
}

const OFF: Telemetry = { forceFlush: async () => undefined, shutdown: async () => undefined };
let started: Telemetry | undefined;

/**
 * Starts tracing for this process when tracingDecision says so (once per process; later calls
 * return the first result).
 * @param defaultServiceName service.name unless OTEL_SERVICE_NAME (or service.name in
 *   OTEL_RESOURCE_ATTRIBUTES) sets it: authmesh-<service or group> per process
 * @param options.spanProcessors replaces the OTLP batch exporter (tests: an in-memory exporter);
 *   with it tracing is on whatever the variables say
 * @throws TelemetryConfigError for OTEL_* values it cannot honour
 */
export function startTelemetry(defaultServiceName: string, options: { env?: NodeJS.ProcessEnv; spanProcessors?: SpanProcessor[] } = {}): Telemetry {
  if (started) return started;
  const env = options.env ?? process.env;
  let processors = options.spanProcessors;
  if (!processors) {
    const decision = tracingDecision(env);
    if (!decision.enabled) return (started = OFF);
    // The exporter reads endpoint, headers, timeout and compression from the OTEL_* variables.
    processors = [new BatchSpanProcessor(new OTLPTraceExporter())];
  }
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (read by the env detector) win over the default.
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: defaultServiceName }).merge(resourceFromAttributes(envDetector.detect().attributes ?? {}));
  // The sampler comes from OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG (default parentbased_always_on).
  const provider = new BasicTracerProvider({ resource, spanProcessors: processors });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setTracingActive(true);
  let stopping: Promise<void> | undefined;
  started = {
    forceFlush: () => provider.forceFlush(),
    shutdown: () => (stopping ??= provider.shutdown().catch(() => undefined)),
  };
  return started;
}

/** service.name for a process running `services` (and the gateway): authmesh-<name or group>. */
export function defaultServiceName(services: readonly string[], gateway: boolean, all: number): string {
  if (services.length === all && gateway) return 'authmesh-embedded';
  const parts = [...services, ...(gateway ? ['gateway'] : [])];
  return `authmesh-${parts.length > 0 ? parts.join('-') : 'idle'}`;
}
