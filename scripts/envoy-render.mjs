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

export function renderEnvoyConfig(template, env) {
  const problems = [];
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
