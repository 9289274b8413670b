// Types of scripts/envoy-render.mjs for the TypeScript tests that import it.
export function renderEnvoyConfig(template: string, env: Record<string, string | undefined>): string;
export function withOtlpVariables(env: Record<string, string | undefined>, problems?: string[]): Record<string, string | undefined>;
