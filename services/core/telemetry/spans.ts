// The spans authmesh makes at its own choke points (HTTP requests, RPCs, store, grid, signing)
// and W3C trace context (traceparent, tracestate) in and out of gRPC metadata and HTTP headers.
// Each helper first tests one module-level boolean: with tracing off (setup.ts registered
// nothing) the hot path pays that test and nothing else.
//
// Attributes name what was done, never with what: no token, secret, code, assertion, cookie,
// password, request body, grid key or store argument is ever an attribute (test: an exported
// trace of requests carrying planted secrets contains none of them).
import { randomBytes } from 'node:crypto';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import type { Metadata } from '@grpc/grpc-js';

let active = false;

/** Set by startTelemetry once a tracer provider is registered. */
export function setTracingActive(on: boolean): void {
  active = on;
}

/** Whether this process records spans (an OTLP endpoint was configured, see setup.ts). */
export function tracingActive(): boolean {
  return active;
}

const tracer = () => trace.getTracer('authmesh');

const metadataGetter: TextMapGetter<Metadata> = {
  keys: (md) => Object.keys(md.getMap()),
  get: (md, key) => {
    const values = md.get(key).filter((v): v is string => typeof v === 'string');
    return values.length > 0 ? values : undefined;
  },
};
const metadataSetter: TextMapSetter<Metadata> = { set: (md, key, value) => md.set(key, value) };

/**
 * Adds the active span's trace context (traceparent, tracestate; W3C Trace Context §3) to the
 * metadata of an outgoing gRPC call. No-op with tracing off or outside any span.
 */
export function injectTraceContext(md: Metadata): void {
  if (active) propagation.inject(context.active(), md, metadataSetter);
}

/** The active span's trace context as HTTP headers for an outgoing request (Connect bridge). */
export function injectTraceHeaders(headers: Headers): void {
  if (active) propagation.inject(context.active(), headers, { set: (h, k, v) => h.set(k, v) });
}

/**
 * Runs one RPC inside a SERVER span named after the method (`authmesh.token.v1.TokenService/Token`),
 * child of the trace context the caller sent in its metadata (a new trace when it sent none).
 * @param path full gRPC path, /package.Service/Method
 * @param run the RPC; its result's gRPC status code (0 = OK) becomes rpc.grpc.status_code
 */
export async function inRpcServerSpan<T>(path: string, metadata: Metadata, run: () => Promise<T>, statusOf: (result: T) => number): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  const name = path.startsWith('/') ? path.slice(1) : path;
  const slash = name.lastIndexOf('/');
  const span = tracer().startSpan(
    name,
    { kind: SpanKind.SERVER, attributes: { 'rpc.system': 'grpc', 'rpc.service': name.slice(0, slash), 'rpc.method': name.slice(slash + 1) } },
    parent,
  );
  try {
    const result = await context.with(trace.setSpan(parent, span), run);
    const code = statusOf(result);
    span.setAttribute('rpc.grpc.status_code', code);
    // OpenTelemetry RPC conventions: these codes are server faults, the others the caller's.
    if ([2, 4, 12, 13, 14, 15].includes(code)) span.setStatus({ code: SpanStatusCode.ERROR });
    return result;
  } finally {
    span.end();
  }
}

/** An HTTP request's SERVER span, started by the gateway's onRequest hook. */
export interface HttpSpan {
  span: Span;
  context: Context;
}

/**
 * Starts the SERVER span of one HTTP request, child of the request's traceparent (W3C Trace
 * Context §3.2) when it carries a valid one. Named `METHOD route` with the route's template,
 * never the raw path (a caller chooses that, and may put a secret in it).
 * @returns undefined with tracing off
 */
export function startHttpServerSpan(method: string, route: string | undefined, headers: Record<string, string | string[] | undefined>): HttpSpan | undefined {
  if (!active) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  const attributes: Attributes = { 'http.request.method': method };
  if (route !== undefined) attributes['http.route'] = route;
  const span = tracer().startSpan(route !== undefined ? `${method} ${route}` : method, { kind: SpanKind.SERVER, attributes }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends an HTTP SERVER span with its response status (5xx: an error, OpenTelemetry HTTP conventions). */
export function endHttpServerSpan(http: HttpSpan, status: number): void {
  http.span.setAttribute('http.response.status_code', status);
  if (status >= 500) http.span.setStatus({ code: SpanStatusCode.ERROR });
  http.span.end();
}

/** Runs `fn` with `ctx` as the active context (a no-op wrapper with tracing off). */
export function withContext<T>(ctx: Context | undefined, fn: () => T): T {
  return active && ctx ? context.with(ctx, fn) : fn();
}

/**
 * Sets attributes on the active span (e.g. oauth.grant_type, authmesh.error). Callers pass only
 * names of things (a grant type, an RFC error code), never a credential.
 */
export function annotate(attributes: Attributes): void {
  if (active) trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * Runs `fn` in an INTERNAL child span of the active one (store, grid, signing). A thrown error or
 * a rejection marks the span as an error (its type only: messages can quote input) and passes on.
 * Synchronous results stay synchronous.
 */
export function inSpan<T>(name: string, attributes: Attributes, fn: () => T): T {
  if (!active) return fn();
  const span = tracer().startSpan(name, { kind: SpanKind.INTERNAL, attributes });
  const fail = (err: unknown) => {
    span.setAttribute('error.type', err instanceof Error ? err.name : 'error');
    span.setStatus({ code: SpanStatusCode.ERROR });
  };
  let result: T;
  try {
    result = context.with(trace.setSpan(context.active(), span), fn);
  } catch (err) {
    fail(err);
    span.end();
    throw err;
  }
  if (result instanceof Promise) {
    return result.then(
      (v) => {
        span.end();
        return v;
      },
      (err: unknown) => {
        fail(err);
        span.end();
        throw err;
      },
    ) as T;
  }
  span.end();
  return result;
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/;
const REQUEST_ID_PREFIX = randomBytes(4).toString('hex');
let requestCounter = 0;

/** The correlation fields of one request's log line (see requestLogIds). */
export type LogIds = { trace_id: string; span_id: string } | { trace_id: string; request_id: string } | { request_id: string };

/**
 * What ties a request's log line to the rest of its request:
 * - tracing on: the active span's trace_id and span_id (the same ids the trace shows);
 * - tracing off: a request_id unique across processes (a random per-process prefix and a
 *   counter), plus the trace_id of the caller's traceparent when it sent a valid one (Envoy
 *   with tracing on), so the edge's trace still finds the line.
 * @param traceparent the incoming traceparent header or metadata value, if any
 */
export function requestLogIds(traceparent: unknown): LogIds {
  if (active) {
    const sc = trace.getActiveSpan()?.spanContext();
    if (sc) return { trace_id: sc.traceId, span_id: sc.spanId };
  }
  const request_id = `${REQUEST_ID_PREFIX}-${(++requestCounter).toString(36)}`;
  const m = typeof traceparent === 'string' ? TRACEPARENT.exec(traceparent) : null;
  return m && m[1] !== '00000000000000000000000000000000' ? { trace_id: m[1]!, request_id } : { request_id };
}
