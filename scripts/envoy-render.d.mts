// Types of scripts/envoy-render.mjs for the tests that render the Envoy template in process.
/**
 * Renders envoy/envoy.yaml's template syntax with values from `env`.
 * @throws Error naming every missing or malformed variable.
 */
export function renderEnvoyConfig(template: string, env: Record<string, string | undefined>): string;
