// The JSON body check of the REST admin surface (issue 10 §3 i, REST through Envoy).
//
// Envoy's grpc_json_transcoder drops JSON body fields the target message does not define, and
// unknown enum names with them, and has no option to refuse them (request_validation_options
// covers methods and query parameters only). So Envoy asks this route first, as an HTTP
// ext_authz service with the buffered body, on /v1/* only: the route finds the RPC by its
// google.api.http rule (verb + path template), parses the body as the proto3 JSON mapping says
// (unknown fields refused), checks enum numbers, and answers 200 (go on) or 400 with the
// transcoder's own error shape ({code: 3, message}) naming the field. Authorization stays with
// the services; this route judges the body's shape only and changes nothing.
//
// DPoP (RFC 9449 §7.1) on REST: the transcoded call reaches the service as its gRPC RPC, so the
// service cannot see the REST request a client's proof names. For a call made with the DPoP
// scheme this route, which sees that request as Envoy forwarded it, answers with the attestation
// of services/core/rpc/rest-dpop-request.ts (HMAC under the mesh secret over the RPC, htm, htu,
// the token's hash and a 15 s expiry); Envoy passes it upstream (allowed_upstream_headers), after
// removing any copy a client sent. The service then verifies the proof itself against it. Bearer
// calls get nothing more: no token is read, nothing is computed.
import { fromJson, getOption, type DescField, type DescMessage, type DescMethod, type DescService, type JsonValue } from '@bufbuild/protobuf';
import { reflect } from '@bufbuild/protobuf/reflect';
import type { FastifyInstance } from 'fastify';
import { ClientService } from '../../gen/es/authmesh/client/v1/client_pb.js';
import { AuditService } from '../../gen/es/authmesh/audit/v1/audit_pb.js';
import { KeyService } from '../../gen/es/authmesh/key/v1/key_pb.js';
import { RefreshTokenService } from '../../gen/es/authmesh/refresh_token/v1/refresh_token_pb.js';
import { ServiceRegistryService } from '../../gen/es/authmesh/service/v1/service_pb.js';
import { UserService } from '../../gen/es/authmesh/user/v1/user_pb.js';
import { http } from '../../gen/es/google/api/annotations_pb.js';
import type { HttpRule } from '../../gen/es/google/api/http_pb.js';
import { constantTimeEqualTo, edgeHosts as edgeHostsOf, isHtuOnHosts, parseDpopAuthorization, resourceRequestHtu } from '../../services/core/oauth/index.js';
import { attestRestDpopRequest, REST_DPOP_REQUEST_METADATA_KEY } from '../../services/core/rpc/rest-dpop-request.js';
import { findUnknownField } from '../../services/core/rpc/strict-messages.js';
import { EDGE_PROOF_HEADER } from '../forwarded-client-cert.js';
import type { RouteModule } from '../gateway.js';
import { adminMethods } from './connect.js';

/** Where Envoy's ext_authz (http_service.path_prefix) sends the check; the REST path follows. */
export const REST_BODY_CHECK_PREFIX = '/_authmesh/rest-body-check';

export const REST_SERVICES: DescService[] = [ClientService, ServiceRegistryService, UserService, KeyService, RefreshTokenService, AuditService];
/** google.rpc.Code INVALID_ARGUMENT, as the transcoder writes errors. */
const INVALID_ARGUMENT = 3;

interface RestRule {
  verb: string;
  /** Path segments; a `{…}` segment matches any one segment. */
  segments: string[];
  /** The `:custom` verb of the template, if any. */
  custom: string | undefined;
  /** The message the JSON body maps to, and its place in the request (for naming fields). */
  body: { desc: DescMessage; at: string } | undefined;
  method: DescMethod;
}

function splitTemplate(path: string): { segments: string[]; custom: string | undefined } {
  // google.api.http: Template = "/" Segments [ Verb ], Verb = ":" LITERAL (after the last segment).
  const lastSlash = path.lastIndexOf('/');
  const colon = path.indexOf(':', lastSlash);
  const main = colon === -1 ? path : path.slice(0, colon);
  return { segments: main.split('/').filter(Boolean), custom: colon === -1 ? undefined : path.slice(colon + 1) };
}

function ruleOf(method: DescMethod, rule: HttpRule): RestRule | undefined {
  const { case: verb, value } = rule.pattern;
  if (verb === undefined || verb === 'custom' || typeof value !== 'string') return undefined;
  let body: RestRule['body'];
  if (rule.body === '*') body = { desc: method.input, at: '' };
  else if (rule.body !== '') {
    const field = method.input.fields.find((f: DescField) => f.name === rule.body);
    if (field?.fieldKind === 'message') body = { desc: field.message, at: field.name };
  }
  return { verb: verb.toUpperCase(), ...splitTemplate(value), body, method };
}

/**
 * A query parameter that would set a field the path or the body already sets, or undefined. The
 * transcoder lets the query override them (`DELETE /v1/clients/X?client_id=Y` acts on Y), so the
 * request the client names (its URL, what a DPoP proof's htu covers: RFC 9449 §4.3 step 9 ignores
 * the query, and what access logs show) would not be the one executed: refused.
 * @param query the raw query string, without '?'
 */
export function queryOverrideProblem(rule: RestRule, query: string): string | undefined {
  if (query === '') return undefined;
  const bound = new Set(rule.segments.filter((s) => s.startsWith('{')).map((s) => s.slice(1, -1).split('=')[0]!));
  for (const pair of query.split('&')) {
    let name: string;
    try {
      name = decodeURIComponent((pair.split('=')[0] ?? '').replace(/\+/g, ' '));
    } catch {
      return 'a query parameter name is not valid percent-encoding';
    }
    const top = name.split('.')[0]!;
    // A field of the path, or one the body carries (body '*': every field; body 'client': that field).
    const inBody = rule.body !== undefined && (rule.body.at === '' || top === rule.body.at);
    if (bound.has(name) || bound.has(top) || inBody) return `query parameter ${JSON.stringify(name.slice(0, 64))} would override a field the path or body sets`;
  }
  return undefined;
}

/** Every REST rule of the admin surface, from the google.api.http annotations. */
export function restRules(services: DescService[] = REST_SERVICES): RestRule[] {
  const out: RestRule[] = [];
  for (const service of services) {
    for (const method of adminMethods(service)) {
      const rule = getOption(method, http);
      for (const r of [rule, ...rule.additionalBindings]) {
        const parsed = ruleOf(method, r);
        if (parsed) out.push(parsed);
      }
    }
  }
  return out;
}

/** The rule a REST request matches, if any (the transcoder answers unknown paths itself). */
export function matchRule(rules: RestRule[], verb: string, path: string): RestRule | undefined {
  const { segments, custom } = splitTemplate(path);
  return rules.find(
    (r) => r.verb === verb && r.custom === custom && r.segments.length === segments.length && r.segments.every((s, i) => (s.startsWith('{') && s.endsWith('}')) || s === segments[i]),
  );
}

/**
 * What is wrong with a REST request body for its rule: a description naming the field or value
 * the schema does not define, or undefined when the body is acceptable (or the rule has none).
 */
export function restBodyProblem(rule: RestRule, body: string): string | undefined {
  if (!rule.body || body.trim() === '') return undefined;
  let json: JsonValue;
  try {
    json = JSON.parse(body) as JsonValue;
  } catch {
    return 'the request body is not valid JSON';
  }
  try {
    // The proto3 JSON mapping: unknown fields (and enum names) are errors unless asked otherwise.
    const message = fromJson(rule.body.desc, json, { ignoreUnknownFields: false });
    const unknown = findUnknownField(reflect(rule.body.desc, message), rule.body.at);
    return unknown === undefined ? undefined : `the request has a field this server does not understand: ${unknown}`;
  } catch (err) {
    return err instanceof Error ? err.message : 'the request body does not match the request message';
  }
}

/**
 * The attestation header value for a DPoP-scheme REST request (RFC 9449 §4.3 steps 8-9), or
 * undefined when the request is not made with the DPoP scheme or its URI cannot be established
 * (the service then checks the proof against the RPC's URL, which a REST proof never matches:
 * refused, fail closed).
 * @param request the REST request as Envoy forwarded it: method, Host (:authority), path (with or
 *   without query), x-forwarded-proto (Envoy's, from the downstream connection)
 * @param edgeHosts the hosts (URL.host) the edge answers for; a request naming another is not attested
 */
export function restDpopAttestation(
  meshSecret: string,
  rule: RestRule,
  request: { method: string; host: string | undefined; path: string; forwardedProto: string | undefined; authorization: string | undefined },
  now: Date,
  edgeHosts: ReadonlySet<string>,
): string | undefined {
  if (request.authorization === undefined) return undefined;
  const token = parseDpopAuthorization(request.authorization);
  if (token === undefined) return undefined;
  // RFC 9449 §4.3 step 9, §7.1: htu is the URI the client called, without query.
  const htu = resourceRequestHtu({ scheme: request.forwardedProto ?? 'http', authority: request.host ?? '', path: request.path });
  if (htu === undefined) return undefined;
  // RFC 9449 §11.1: the Host header is the client's to choose; only a host this edge answers for
  // is attested, so a proof made for another server's /v1 path is never accepted here.
  if (!isHtuOnHosts(htu, edgeHosts)) return undefined;
  const rpc = `/${rule.method.parent.typeName}/${rule.method.name}`;
  return attestRestDpopRequest(meshSecret, { rpc, htm: request.method, htu }, token, now);
}

export const restBodyCheckRoutes: RouteModule = async ({ app, config, meshSecret }) => {
  const rules = restRules();
  // With AUTHMESH_MTLS_EDGE_SECRET set, Envoy adds the edge proof to this check: only then is an
  // attestation made (a process reaching the gateway port directly cannot have one minted).
  const isEdgeSecret = config.mtlsEdgeSecret === undefined ? undefined : constantTimeEqualTo(config.mtlsEdgeSecret);
  const secret = meshSecret ?? config.meshSecret;
  // The hosts (URL.host) the edge answers for: the issuer's and the mutual-TLS base URL's.
  const edgeHosts = edgeHostsOf(config.issuer, [config.mtlsBaseUrl]);
  await app.register(async (scope: FastifyInstance) => {
    // The body is judged here, as text: whatever its content type claims, the transcoder reads JSON.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));
    scope.all(`${REST_BODY_CHECK_PREFIX}/*`, async (req, reply) => {
      const [path = '', query = ''] = req.url.slice(REST_BODY_CHECK_PREFIX.length).split('?', 2);
      const rule = matchRule(rules, req.method, decodeURI(path));
      const problem = rule ? (queryOverrideProblem(rule, query) ?? restBodyProblem(rule, typeof req.body === 'string' ? req.body : '')) : undefined;
      if (problem === undefined) {
        const authorization = req.headers.authorization;
        // Only the DPoP scheme costs anything here; a Bearer call is answered at once.
        if (rule === undefined || secret === undefined || authorization === undefined || !/^dpop /i.test(authorization)) return reply.code(200).send();
        const edgeProof = req.headers[EDGE_PROOF_HEADER];
        const fromEdge = isEdgeSecret === undefined || (typeof edgeProof === 'string' && isEdgeSecret(edgeProof));
        const one = (v: string | string[] | undefined) => (typeof v === 'string' ? v : undefined);
        const request = { method: req.method, host: one(req.headers.host), path, forwardedProto: one(req.headers['x-forwarded-proto']), authorization };
        const attestation = fromEdge ? restDpopAttestation(secret, rule, request, new Date(), edgeHosts) : undefined;
        if (attestation !== undefined) reply.header(REST_DPOP_REQUEST_METADATA_KEY, attestation);
        return reply.code(200).send();
      }
      return reply.code(400).header('cache-control', 'no-store').type('application/json').send({ code: INVALID_ARGUMENT, message: problem, details: [] });
    });
  });
};
