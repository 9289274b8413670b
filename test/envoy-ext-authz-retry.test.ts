// Issue 18: a Check caught by a killed token instance (reset in flight, or connection refused) is
// retried on the other instance inside the ext_authz deadline. Envoy converts the core RetryPolicy
// GrpcService takes into a route retry policy (Http::Utility::convertCoreToRouteRetryPolicy):
// without retry_back_off its back-off starts from a 1 s base, a random 0-1 s wait before the
// retry, so most such Checks hit the 250 ms timeout first and failed closed (503,
// ext_authz_error; measured in the soak and on a two-instance stack). The conversion also makes
// max_interval the per-try timeout, which must not cut a running try: a DPoP Check spends its
// proof, so a hedged second try on another instance is a replay (review 10 F1). The rendered
// filter must wait only a few ms between tries, never cut one, and still fail closed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderEnvoyConfig } from '../scripts/envoy-render.mjs';
import { repoRoot } from '../services/core/rpc/index.js';

const template = readFileSync(join(repoRoot, 'envoy', 'envoy.yaml'), 'utf8');
const vars: Record<string, string> = {
  AUTHMESH_ISSUER: 'http://127.0.0.1:10000',
  AUTHMESH_ENVOY_DESCRIPTOR: '/srv/descriptor.binpb',
  AUTHMESH_SAMPLE_API_AUDIENCE: 'https://sample-api.authmesh.test',
  AUTHMESH_GATEWAY_UPSTREAMS: '127.0.0.1:8080',
  AUTHMESH_SAMPLE_API_UPSTREAMS: '127.0.0.1:8090',
  ...Object.fromEntries(['CLIENT', 'SERVICE', 'USER', 'KEY', 'CODE', 'TOKEN', 'REFRESH_TOKEN'].map((s) => [`AUTHMESH_${s}_UPSTREAMS`, '127.0.0.1:50051'])),
};

/** The rendered ext_authz filter (the HTTP filter entry, not the per-route settings). */
function extAuthzFilter(rendered: string): string {
  const start = rendered.indexOf('- name: envoy.filters.http.ext_authz\n');
  expect(start, 'the ext_authz filter is in the rendered config').toBeGreaterThan(0);
  const end = rendered.indexOf('- name: ', start + 10);
  return rendered.slice(start, end);
}

const seconds = (text: string | undefined) => Number((text ?? 'NaN').replace(/s$/, ''));

describe('ext_authz retries on another token instance inside its deadline', () => {
  it('ext_authz_retry_backoff_fits_inside_the_check_timeout (a killed instance’s Check is retried before the deadline)', () => {
    const filter = extAuthzFilter(renderEnvoyConfig(template, vars));
    const timeout = seconds(/\btimeout: ([\d.]+s)/.exec(filter)?.[1]);
    expect(timeout).toBe(0.25);
    const retries = Number(/num_retries: \{ value: (\d+) \}/.exec(filter)?.[1]);
    expect(retries).toBeGreaterThanOrEqual(1);
    expect(filter).toMatch(/retry_on: [\w,-]*\bconnect-failure\b/);
    expect(filter).toMatch(/retry_on: [\w,-]*\breset\b/);
    expect(filter).toContain('envoy.retry_host_predicates.previous_hosts');
    const backOff = /retry_back_off: \{ base_interval: ([\d.]+s), max_interval: ([\d.]+s) \}/.exec(filter);
    expect(backOff, 'an explicit retry_back_off (the default base is 1 s)').not.toBeNull();
    const base = seconds(backOff![1]);
    const perTry = seconds(backOff![2]);
    // The waits between tries: a few ms (jittered from the base), never a good part of the deadline.
    expect(base).toBeLessThanOrEqual(0.01);
    // ext_authz_try_never_cut_while_running (review 10 F1): a try is never cut (max_interval is
    // the per-try timeout) and hedged on another instance: a DPoP Check records its proof's jti
    // (RFC 9449 §11.1), so the hedge was a replay, 401 for a valid slow request. A retry follows
    // only a try that failed.
    expect(perTry).toBeGreaterThanOrEqual(timeout);
    // Still fail closed.
    expect(filter).toContain('failure_mode_allow: false');
  });

  it('rest_body_check_is_retried_on_another_gateway (a REST call is not lost to a gateway instance kill)', () => {
    const rendered = renderEnvoyConfig(template, vars);
    const start = rendered.indexOf('- name: authmesh.rest_body_check');
    expect(start).toBeGreaterThan(0);
    const filter = rendered.slice(start, rendered.indexOf('- name: ', start + 10));
    const timeout = seconds(/server_uri: \{[^}]*timeout: ([\d.]+s) \}/.exec(filter)?.[1]);
    expect(timeout).toBeGreaterThan(0);
    expect(filter).toMatch(/retry_on: [\w,-]*\bconnect-failure\b/);
    expect(filter).toMatch(/retry_on: [\w,-]*\breset\b/);
    expect(filter).toContain('envoy.retry_host_predicates.previous_hosts');
    const backOff = /retry_back_off: \{ base_interval: ([\d.]+s), max_interval: ([\d.]+s) \}/.exec(filter);
    expect(backOff, 'an explicit retry_back_off (the default base is 1 s)').not.toBeNull();
    expect(seconds(backOff![1])).toBeLessThanOrEqual(0.01);
    // max_interval is the per-try timeout: never shorter than the check's own timeout.
    expect(seconds(backOff![2])).toBeGreaterThanOrEqual(timeout);
    expect(filter).toContain('failure_mode_allow: false');
  });
});
