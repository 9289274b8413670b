// Types of scripts/otlp-receiver.mjs for the TypeScript tests that import it.
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  /** SPAN_KIND_SERVER, SPAN_KIND_CLIENT, … */
  kind: string;
  /** The resource's service.name. */
  service: string | undefined;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  startNs: bigint;
  endNs: bigint;
  status: string;
}

export interface OtlpReceiver {
  /** http://host:port: the value for OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  port: number;
  /** Every span received so far, in arrival order. */
  spans: ReceivedSpan[];
  /** With keepBodies: each accepted export request's protobuf bytes, in arrival order (else empty). */
  bodies: Buffer[];
  onSpans(listener: (batch: ReceivedSpan[]) => void): () => void;
  close(): Promise<void>;
}

export const OTLP_PROTO_DIR: string;
export function otlpProtosMissing(protoDir?: string): string | undefined;
export function flattenExport(request: unknown): ReceivedSpan[];
export function startOtlpReceiver(options?: { host?: string; port?: number; protoDir?: string; keepBodies?: boolean }): Promise<OtlpReceiver>;
export function formatTrace(spans: ReceivedSpan[]): string[];
