// Malformed HTTP requests built from a valid seed request of a route: mutated form and JSON
// bodies, repeated/empty/huge parameters, bad percent-encoding, wrong content types, invalid
// UTF-8, oversized and broken headers, bad Authorization headers, gzip bombs, and raw byte-level
// requests (truncated bodies, bad Content-Length, broken chunking, bad request lines).
import { gzipSync } from 'node:zlib';
import type { HttpCase } from './harness.js';
import { INTERESTING_VALUES, type Rng } from './prng.js';

export type Body = { kind: 'none' } | { kind: 'form'; pairs: [string, string][] } | { kind: 'json'; value: unknown } | { kind: 'bytes'; bytes: Buffer; contentType: string };

/** A valid request of a route, as a real client sends it. */
export interface Seed {
  method: string;
  path: string;
  query: [string, string][];
  headers: [string, string][];
  body: Body;
}

/** Strings standing for secrets in secret-bearing positions: they must never reach a log line. */
export interface Canaries {
  secret: string;
  token: string;
}

/** Percent-encodes the UTF-8 bytes of s (lone surrogates become U+FFFD, never a throw). */
const enc = (s: string) => {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) out += /[A-Za-z0-9\-._~]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
};
export const formString = (pairs: [string, string][]) => pairs.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');

/** Percent-encoding that is wrong in one of the ways decoders trip on. */
function badPercent(rng: Rng, v: string): string {
  const bad = rng.pick(['%', '%z', '%zz', '%g0', '%ff', '%c0%af', '%ed%a0%80', '%f8%88%80%80%80', '%00', '%%', '%2', '%E2%82', '%u0041']);
  const at = rng.int(v.length + 1);
  return v.slice(0, at) + bad + v.slice(at);
}

function mutateValue(rng: Rng, v: string, canaries: Canaries): string {
  switch (rng.int(8)) {
    case 0:
      return '';
    case 1:
      return v.repeat(rng.range(2, 50));
    case 2:
      return 'x'.repeat(rng.pick([255, 256, 1024, 8192, 30_000, 70_000]));
    case 3:
      return rng.pick(INTERESTING_VALUES);
    case 4:
      return rng.chance(0.5) ? canaries.secret : canaries.token;
    case 5:
      return v.slice(0, rng.int(v.length + 1));
    case 6:
      return rng.text(64);
    default: {
      const at = rng.int(v.length + 1);
      return v.slice(0, at) + rng.text(8) + v.slice(at);
    }
  }
}

const SECRET_PARAMS = ['client_secret', 'password', 'code', 'code_verifier', 'refresh_token', 'token', 'subject_token', 'actor_token', 'client_assertion'];

/** A form body, mutated: returns the encoded body (possibly with raw bad bytes) and a label. */
function mutateForm(rng: Rng, pairs: [string, string][], canaries: Canaries): { body: Buffer; label: string } {
  let p = pairs.map(([k, v]) => [k, v] as [string, string]);
  const op = rng.int(12);
  const idx = p.length > 0 ? rng.int(p.length) : 0;
  switch (op) {
    case 0:
      if (p.length > 0) p.splice(idx, 1);
      return { body: Buffer.from(formString(p)), label: 'form:drop-param' };
    case 1:
      if (p.length > 0) p.push([p[idx]![0], mutateValue(rng, p[idx]![1], canaries)]);
      return { body: Buffer.from(formString(p)), label: 'form:repeat-param' };
    case 2:
      if (p.length > 0) p[idx] = [p[idx]![0], ''];
      return { body: Buffer.from(formString(p)), label: 'form:empty-param' };
    case 3:
      if (p.length > 0) p[idx] = [p[idx]![0], mutateValue(rng, p[idx]![1], canaries)];
      return { body: Buffer.from(formString(p)), label: 'form:mutate-value' };
    case 4: {
      const s = formString(p);
      return { body: Buffer.from(badPercent(rng, s)), label: 'form:bad-percent' };
    }
    case 5: {
      // Invalid UTF-8 as raw bytes in the body (not percent-encoded).
      const s = Buffer.from(formString(p));
      const at = rng.int(s.length + 1);
      return { body: Buffer.concat([s.subarray(0, at), Buffer.from([rng.pick([0xff, 0xc0, 0xed, 0x80, 0xfe]), rng.pick([0x80, 0xa0, 0x00, 0xbf])]), s.subarray(at)]), label: 'form:invalid-utf8' };
    }
    case 6:
      // Secret-bearing parameters filled with canaries (a log must never show them).
      p = p.map(([k, v]) => [k, SECRET_PARAMS.includes(k) ? canaries.secret : v]);
      p.push([rng.pick(SECRET_PARAMS), canaries.token]);
      return { body: Buffer.from(formString(p)), label: 'form:canary-secrets' };
    case 7: {
      const n = rng.pick([100, 1000, 5000]);
      for (let i = 0; i < n; i++) p.push([`p${rng.int(50)}`, rng.text(4)]);
      return { body: Buffer.from(formString(p)), label: 'form:many-params' };
    }
    case 8:
      return { body: Buffer.from(formString(p).replace(/=/g, rng.pick(['==', '', '&', ';']))), label: 'form:broken-separators' };
    case 9:
      return { body: rng.bytes(rng.range(1, 2048)), label: 'form:random-bytes' };
    case 10:
      // Names that are special to JS objects and parsers.
      p.push([rng.pick(['__proto__', 'constructor', 'hasOwnProperty', '', '[]', 'a[b]', 'grant_type[]']), rng.text(10)]);
      return { body: Buffer.from(formString(p)), label: 'form:special-names' };
    default:
      return { body: Buffer.from(formString(p) + '&' + 'x'.repeat(rng.pick([65_000, 70_000, 200_000]))), label: 'form:oversized' };
  }
}

function mutateJsonBody(rng: Rng, value: unknown, canaries: Canaries): { body: Buffer; label: string } {
  const obj = value !== null && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Record<string, unknown>) } : {};
  const keys = Object.keys(obj);
  switch (rng.int(9)) {
    case 0:
      return { body: Buffer.from(JSON.stringify(obj).slice(0, rng.int(JSON.stringify(obj).length))), label: 'json:truncated' };
    case 1:
      if (keys.length > 0) obj[rng.pick(keys)] = rng.pick<unknown>([null, 1, -1, true, [], {}, [[]], 'x'.repeat(70_000), [1, 2], { a: 1 }, 1e308]);
      return { body: Buffer.from(JSON.stringify(obj)), label: 'json:wrong-type' };
    case 2:
      obj[rng.pick(['__proto__', 'constructor', 'client_secret', 'registration_access_token', 'jwks', 'jwks_uri', 'extra', ''])] = rng.pick<unknown>([canaries.secret, { isAdmin: true }, ['x'], { keys: [{ kty: 'oct', k: canaries.secret }] }]);
      return { body: Buffer.from(JSON.stringify(obj)), label: 'json:extra-member' };
    case 3: {
      let deep = '1';
      const n = rng.pick([100, 1000, 10_000]);
      deep = '['.repeat(n) + deep + ']'.repeat(n);
      return { body: Buffer.from(`{"client_name":${deep}}`), label: 'json:deep-nesting' };
    }
    case 4:
      return { body: Buffer.from(rng.pick(['', 'null', '[]', '"x"', '1', 'true', '{', '{"a":', '{"a":1,}', "{'a':1}", '{"a":NaN}', '\ufeff{}', '{"a":"\\ud800"}', '{"a":"\\u00"}'])), label: 'json:malformed' };
    case 5: {
      const s = Buffer.from(JSON.stringify(obj));
      const at = rng.int(s.length + 1);
      return { body: Buffer.concat([s.subarray(0, at), Buffer.from([0xff, 0xfe, 0xc0]), s.subarray(at)]), label: 'json:invalid-utf8' };
    }
    case 6:
      if (keys.length > 0) obj[rng.pick(keys)] = Array.from({ length: rng.pick([10, 1000, 5000]) }, () => rng.text(8));
      return { body: Buffer.from(JSON.stringify(obj)), label: 'json:long-array' };
    case 7:
      return { body: Buffer.from(JSON.stringify(obj) + JSON.stringify(obj)), label: 'json:two-documents' };
    default:
      if (keys.length > 0) obj[rng.pick(keys)] = rng.text(40);
      return { body: Buffer.from(JSON.stringify(obj)), label: 'json:random-string' };
  }
}

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

/** Authorization header values that are wrong in the ways parsers trip on. */
function badAuthorization(rng: Rng, current: string | undefined, canaries: Canaries): string {
  return rng.pick([
    'Basic',
    'Basic ',
    'Basic !!!notbase64!!!',
    'Basic ' + b64('no-colon'),
    'Basic ' + b64(':' + canaries.secret),
    'Basic ' + b64('%zz:%zz'),
    'Basic ' + b64(Buffer.from([0xff, 0xfe, 0x3a, 0xc0, 0xaf])),
    'Basic ' + b64('id:' + canaries.secret).slice(0, 7),
    'Basic ' + b64('a'.repeat(12_000) + ':' + canaries.secret),
    'Basic ' + b64('client:' + canaries.secret) + '=====',
    'basic ' + b64('client:' + canaries.secret),
    'Bearer',
    'Bearer ' + canaries.token,
    'Bearer ' + canaries.token + ' ' + canaries.token,
    'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
    'Bearer ' + 'e'.repeat(12_000),
    'Bearer \u00e9\u00ff\u0080' + canaries.token,
    'Digest username="x"',
    'Negotiate ' + b64(canaries.secret),
    (current ?? 'Basic x') + ', Bearer ' + canaries.token,
    (current ?? 'Basic x').toLowerCase(),
    (current ?? 'Basic x').slice(0, Math.max(1, (current ?? 'Basic x').length - 3)),
  ]);
}

const CONTENT_TYPES = [
  '',
  'text/plain',
  'application/json',
  'application/x-www-form-urlencoded; charset=utf-16',
  'application/x-www-form-urlencoded; charset=',
  'application/x-www-form-urlencoded;;;',
  'APPLICATION/X-WWW-FORM-URLENCODED',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded, application/json',
  'application/jsonx',
  'application/json; charset=latin1',
  'application/proto',
  'application/grpc-web+proto',
  '*/*',
  '\u00ff\u00fe',
  'application/x-www-form-urlencoded\u0000',
];

/** A Content-Encoding body: a gzip bomb, broken gzip, or an encoding nobody supports. */
export function encodedBody(rng: Rng, body: Buffer, bombBytes: number): { body: Buffer; encoding: string; label: string } {
  switch (rng.int(4)) {
    case 0:
      return { body: gzipSync(Buffer.alloc(bombBytes, rng.pick([0x20, 0x61, 0x00])), { level: 9 }), encoding: 'gzip', label: 'enc:gzip-bomb' };
    case 1:
      return { body: gzipSync(body).subarray(0, rng.range(1, 20)), encoding: 'gzip', label: 'enc:truncated-gzip' };
    case 2:
      return { body: rng.bytes(rng.range(1, 200)), encoding: rng.pick(['gzip', 'br', 'deflate']), label: 'enc:not-compressed' };
    default:
      return { body, encoding: rng.pick(['x-unknown', 'gzip, gzip', 'identity, br', '']), label: 'enc:unknown-encoding' };
  }
}

/** The seed's body as bytes and its content type. */
export function seedBody(seed: Seed): { body: Buffer | undefined; contentType: string | undefined } {
  switch (seed.body.kind) {
    case 'form':
      return { body: Buffer.from(formString(seed.body.pairs)), contentType: 'application/x-www-form-urlencoded' };
    case 'json':
      return { body: Buffer.from(JSON.stringify(seed.body.value)), contentType: 'application/json' };
    case 'bytes':
      return { body: seed.body.bytes, contentType: seed.body.contentType };
    default:
      return { body: undefined, contentType: undefined };
  }
}

/** The seed request as an HttpCase, unmutated. */
export function seedCase(seed: Seed): HttpCase {
  const { body, contentType } = seedBody(seed);
  const headers: [string, string][] = [...seed.headers];
  if (contentType !== undefined && !headers.some(([k]) => k.toLowerCase() === 'content-type')) headers.push(['content-type', contentType]);
  const q = seed.query.length > 0 ? `?${formString(seed.query)}` : '';
  return { method: seed.method, path: seed.path + q, headers, body };
}

/**
 * One malformed request derived from the seed: one to three mutations of its method, path,
 * query, headers or body. `methods` are the methods the route table registers for this URL.
 */
export function mutateSeed(rng: Rng, seed: Seed, methods: readonly string[], canaries: Canaries, bombBytes: number): { c: HttpCase; label: string } {
  const c = seedCase(seed);
  const labels: string[] = [];
  let query = [...seed.query];
  let queryRaw: string | undefined;
  const rounds = rng.range(1, 3);
  const setHeader = (name: string, value: string) => {
    c.headers = c.headers.filter(([k]) => k.toLowerCase() !== name);
    c.headers.push([name, value]);
  };
  for (let r = 0; r < rounds; r++) {
    const op = rng.int(12);
    if (op <= 2 && c.body !== undefined && seed.body.kind === 'form') {
      const m = mutateForm(rng, seed.body.pairs, canaries);
      c.body = m.body;
      labels.push(m.label);
    } else if (op <= 2 && seed.body.kind === 'json') {
      const m = mutateJsonBody(rng, seed.body.value, canaries);
      c.body = m.body;
      labels.push(m.label);
    } else if (op <= 3) {
      // Query: same mutations as a form (authorization endpoint GET), or raw garbage.
      if (query.length > 0 && rng.chance(0.7)) {
        const m = mutateForm(rng, query, canaries);
        queryRaw = m.body.toString('latin1').replace(/[^\x21-\xff]/g, (ch) => enc(ch));
        labels.push(`query:${m.label}`);
      } else {
        query = [...query, [rng.pick(['code', 'access_token', 'client_secret', 'x', '']), canaries.secret]];
        labels.push('query:extra');
      }
    } else if (op === 4) {
      setHeader('authorization', badAuthorization(rng, c.headers.find(([k]) => k.toLowerCase() === 'authorization')?.[1], canaries));
      labels.push('hdr:bad-authorization');
    } else if (op === 5) {
      setHeader('content-type', rng.pick(CONTENT_TYPES));
      labels.push('hdr:content-type');
    } else if (op === 6) {
      const e = encodedBody(rng, c.body ?? Buffer.alloc(0), bombBytes);
      c.body = e.body;
      setHeader('content-encoding', e.encoding);
      labels.push(e.label);
    } else if (op === 7) {
      // Oversized headers: one huge, or very many (node answers 431 above 16 KiB).
      if (rng.chance(0.5)) c.headers.push([rng.pick(['x-big', 'cookie', 'authorization', 'user-agent']), 'v'.repeat(rng.pick([8_000, 17_000, 40_000]))]);
      else for (let i = 0; i < rng.pick([120, 600]); i++) c.headers.push([`x-h${i}`, rng.text(20).replace(/[^\x20-\x7e]/g, 'a')]);
      labels.push('hdr:oversized');
    } else if (op === 8) {
      // Latin-1 bytes in header values: invalid UTF-8 on the wire.
      setHeader(rng.pick(['cookie', 'origin', 'if-none-match', 'accept', 'x-forwarded-for', 'accept-language']), '\u00ff\u00fe\u00c0' + rng.text(16).replace(/[^\x20-\xff]/g, '\u00e9'));
      labels.push('hdr:latin1');
    } else if (op === 9) {
      const cookieName = rng.pick(['authmesh_session', 'authmesh_csrf', '__Host-authmesh_session', 'x']);
      setHeader('cookie', `${cookieName}=${rng.pick([canaries.secret, 's:' + canaries.token + '.sig', '', '%zz', 'a'.repeat(4000), '"unterminated'])}; ${cookieName}=dup`);
      labels.push('hdr:cookie');
    } else if (op === 10) {
      c.method = rng.chance(0.7) ? rng.pick([...methods, 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'PROPFIND']) : rng.pick(['GET', 'DELETE', 'PUT']);
      labels.push('method');
    } else {
      // Path variants the router normalises (or must refuse).
      const p = rng.pick([seed.path + '/', seed.path.toUpperCase(), seed.path + '//', seed.path.replace(/\//g, '//'), seed.path + '/..', seed.path + '%2F', seed.path + '%00', seed.path + ';x=1', seed.path + '/%zz', seed.path + '/' + 'a'.repeat(5000)]);
      c.path = p;
      labels.push('path');
    }
  }
  if (!labels.some((l) => l === 'path')) {
    const q = queryRaw ?? (query.length > 0 ? formString(query) : '');
    c.path = seed.path + (q !== '' ? `?${q}` : '');
  }
  return { c, label: labels.join('+') };
}

/** Raw requests: things node:http would refuse to send, written byte for byte. */
export function rawRequest(rng: Rng, seed: Seed, host: string, canaries: Canaries): { bytes: Buffer; halfClose: boolean; label: string } {
  const { body = Buffer.alloc(0), contentType } = seedBody(seed);
  const baseHeaders = [`Host: ${host}`, ...(contentType ? [`Content-Type: ${contentType}`] : []), ...seed.headers.map(([k, v]) => `${k}: ${v}`)];
  const line = `${seed.method} ${seed.path}${seed.query.length > 0 ? `?${formString(seed.query)}` : ''} HTTP/1.1`;
  const head = (l: string, headers: string[]) => Buffer.from(`${l}\r\n${headers.join('\r\n')}\r\n\r\n`, 'latin1');
  switch (rng.int(11)) {
    case 0: // truncated body: Content-Length promises more than is sent
      return { bytes: Buffer.concat([head(line, [...baseHeaders, `Content-Length: ${body.length + rng.range(1, 5000)}`]), body]), halfClose: true, label: 'raw:truncated-body' };
    case 1: // Content-Length that is not a number, negative, or huge
      return { bytes: Buffer.concat([head(line, [...baseHeaders, `Content-Length: ${rng.pick(['-1', 'abc', '1e3', '99999999999999999999', ' 5', '0x10', '+5'])}`]), body]), halfClose: rng.chance(0.5), label: 'raw:bad-content-length' };
    case 2: // two different Content-Lengths, or Content-Length with Transfer-Encoding (smuggling shapes)
      return {
        bytes: Buffer.concat([head(line, [...baseHeaders, `Content-Length: ${body.length}`, rng.chance(0.5) ? `Content-Length: ${body.length + 3}` : 'Transfer-Encoding: chunked']), body]),
        halfClose: true,
        label: 'raw:conflicting-length',
      };
    case 3: { // broken chunked encoding
      const chunk = rng.pick([`zz\r\n${body.toString('latin1')}\r\n0\r\n\r\n`, `${(body.length + 10).toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`, `${body.length.toString(16)}\r\n${body.toString('latin1')}`, `fffffffffffffff\r\n`, `${body.length.toString(16)};ext="\r\n${body.toString('latin1')}\r\n0\r\n\r\n`]);
      return { bytes: Buffer.concat([head(line, [...baseHeaders, 'Transfer-Encoding: chunked']), Buffer.from(chunk, 'latin1')]), halfClose: true, label: 'raw:bad-chunked' };
    }
    case 4: // request-target with bytes node:http will not send
      return { bytes: Buffer.concat([head(`${seed.method} ${seed.path}?${rng.pick(['a b', 'x=\u00ff\u00fe', `code=${canaries.secret}\t`, '%', 'a=%zz&a=%00', '#frag'])} HTTP/1.1`, [...baseHeaders, `Content-Length: ${body.length}`]), body]), halfClose: false, label: 'raw:bad-target' };
    case 5: // header line without a colon, with NUL, with obs-fold
      return { bytes: Buffer.concat([head(line, [...baseHeaders, rng.pick(['NoColonHere', 'X-A: b\u0000c', 'X-A: b\r\n folded', ': empty-name', 'X A: space-in-name', `Authorization : Basic ${b64('x:' + canaries.secret)}`]), `Content-Length: ${body.length}`]), body]), halfClose: false, label: 'raw:bad-header-line' };
    case 6: // HTTP/1.0 or a version that does not exist
      return { bytes: Buffer.concat([head(line.replace('HTTP/1.1', rng.pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', ''])), [...baseHeaders, `Content-Length: ${body.length}`]), body]), halfClose: false, label: 'raw:bad-version' };
    case 7: // no Host header, or two
      return { bytes: Buffer.concat([head(line, [...baseHeaders.filter((h) => !h.startsWith('Host:')), ...(rng.chance(0.5) ? [`Host: ${host}`, 'Host: evil.example'] : []), `Content-Length: ${body.length}`]), body]), halfClose: false, label: 'raw:host' };
    case 8: // random bytes instead of a request
      return { bytes: rng.bytes(rng.range(1, 4096)), halfClose: rng.chance(0.5), label: 'raw:random-bytes' };
    case 9: // the headers never end
      return { bytes: Buffer.from(`${line}\r\n${baseHeaders.join('\r\n')}\r\nX-Slow: ${'a'.repeat(rng.range(10, 20_000))}`, 'latin1'), halfClose: true, label: 'raw:unterminated-headers' };
    default: // two pipelined requests, the second malformed
      return { bytes: Buffer.concat([head(line, [...baseHeaders, `Content-Length: ${body.length}`]), body, Buffer.from(`${seed.method} /\u00ff HTTP/1.1\r\nContent-Length: 3\r\n\r\nab`, 'latin1')]), halfClose: true, label: 'raw:pipelined' };
  }
}
