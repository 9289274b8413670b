export { defaultServiceName, startTelemetry, TelemetryConfigError, tracingDecision, type Telemetry, type TracingDecision } from './setup.js';
export {
  annotate,
  endHttpServerSpan,
  injectTraceContext,
  injectTraceHeaders,
  inRpcServerSpan,
  inSpan,
  requestLogIds,
  startHttpServerSpan,
  tracingActive,
  withContext,
  type HttpSpan,
  type LogIds,
} from './spans.js';
export { traceGrid, traceStore } from './backends.js';
