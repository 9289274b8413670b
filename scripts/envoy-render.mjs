#!/usr/bin/env node
// Renders the Envoy config template (envoy/envoy.yaml) with values from the environment, so one
// versioned file serves local stacks, tests and docker-compose. Usage:
//   node scripts/envoy-render.mjs [template] [output]     (defaults: envoy/envoy.yaml, stdout)
// Syntax (see the template's header):
//   ${NAME} / ${NAME:-default}   a scalar; unset without default is an error (never an empty value)
//   ${endpoints:NAME}            NAME = "host:port[,host:port…]" → a YAML flow list of lb_endpoints
//   "# @if NAME" … "# @endif"    the lines between are kept only when NAME is set and non-empty
// Unlike envsubst, a missing variable stops the render with its name, instead of silently
// producing a config that points nowhere.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export function renderEnvoyConfig(template, rawEnv) {
  const problems = [];
  const env = withOtlpVariables(rawEnv, problems);
  const out = [];
  const stack = [];
  for (const line of template.split('\n')) {
    const cond = /^\s*#\s*@if\s+([A-Z0-9_]+)\s*$/.exec(line);
    if (cond) {
      stack.push(Boolean(env[cond[1]]));
      continue;
    }
    if (/^\s*#\s*@endif\s*$/.test(line)) {
      if (stack.length === 0) problems.push('"# @endif" without "# @if"');
      stack.pop();
      continue;
    }
    if (stack.includes(false)) continue;
    // Comments are documentation: they may mention the syntax itself, so they are not expanded.
    if (/^\s*#/.test(line)) {
      out.push(line);
      continue;
    }
    out.push(
      line.replace(/\$\{(endpoints:)?([A-Z0-9_]+)(?::-([^}]*))?\}/g, (_, endpoints, name, fallback) => {
        const value = env[name] !== undefined && env[name] !== '' ? env[name] : fallback;
        if (value === undefined) {
          problems.push(`${name} is not set`);
          return '';
        }
        if (!endpoints) {
          if (/[\n"\\]/.test(value)) problems.push(`${name} must not contain newlines, quotes or backslashes`);
          return value;
        }
        const items = value.split(',').map((s) => s.trim()).filter(Boolean);
        if (items.length === 0) problems.push(`${name} lists no host:port`);
        return `[${items
          .map((item) => {
            const m = /^([A-Za-z0-9.-]+):(\d{1,5})$/.exec(item);
            if (!m || Number(m[2]) > 65535) {
              problems.push(`${name}: ${JSON.stringify(item)} is not host:port`);
              return '';
            }
            return `{ endpoint: { address: { socket_address: { address: ${m[1]}, port_value: ${m[2]} } } } }`;
          })
          .join(', ')}]`;
      }),
    );
  }
  if (stack.length > 0) problems.push('"# @if" without "# @endif"');
  if (problems.length > 0) throw new Error(`cannot render the Envoy config:\n  - ${[...new Set(problems)].join('\n  - ')}`);
  return out.join('\n');
}

/**
 * The OpenTelemetry variables Envoy's tracing block needs, from the standard ones the services
 * read (unless AUTHMESH_ENVOY_OTLP_ENDPOINT is set explicitly): tracing is on when
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (the full URL) or OTEL_EXPORTER_OTLP_ENDPOINT (the base URL,
 * + /v1/traces) is set, and OTEL_SDK_DISABLED is not true nor OTEL_TRACES_EXPORTER none — the same
 * rule as services/core/telemetry/setup.ts. Sets AUTHMESH_ENVOY_OTLP_ENDPOINT (host:port) and
 * AUTHMESH_ENVOY_OTLP_URL; only http:// endpoints (the cluster has no TLS).
 */
export function withOtlpVariables(env, problems = []) {
  if (env.AUTHMESH_ENVOY_OTLP_ENDPOINT) return env;
  const disabled = String(env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true' || /(^|,)\s*none\s*(,|$)/i.test(env.OTEL_TRACES_EXPORTER ?? '');
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (disabled || (!traces && !base)) return env;
  const name = traces ? 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' : 'OTEL_EXPORTER_OTLP_ENDPOINT';
  let url;
  try {
    url = traces ? new URL(traces) : new URL(`${base.replace(/\/+$/, '')}/v1/traces`);
  } catch {
    problems.push(`${name} is not a URL`);
    return env;
  }
  if (url.protocol !== 'http:') {
    problems.push(`${name}: Envoy exports traces over http:// only (no TLS to the receiver)`);
    return env;
  }
  const port = url.port || '80';
  return { ...env, AUTHMESH_ENVOY_OTLP_ENDPOINT: `${url.hostname}:${port}`, AUTHMESH_ENVOY_OTLP_URL: url.href };
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const [, , templatePath = 'envoy/envoy.yaml', outputPath] = process.argv;
  try {
    const rendered = renderEnvoyConfig(readFileSync(templatePath, 'utf8'), process.env);
    if (outputPath) {
      mkdirSync(dirname(outputPath), { recursive: true });
      writeFileSync(outputPath, rendered, { mode: 0o644 });
    } else {
      process.stdout.write(rendered);
    }
  } catch (err) {
    console.error(err instanceof Error ? err.message : err);
    process.exit(2);
  }
}
