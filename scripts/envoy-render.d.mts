// Types of scripts/envoy-render.mjs for the TypeScript tests that import it.
/**
 * Renders envoy/envoy.yaml's template syntax with values from `env`.
 * @throws Error naming every missing or malformed variable.
 */
export function renderEnvoyConfig(template: string, env: Record<string, string | undefined>): string;
/** `env` with the Envoy OTLP variables derived from OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT; problems are appended to `problems`. */
export function withOtlpVariables(env: Record<string, string | undefined>, problems?: string[]): Record<string, string | undefined>;
