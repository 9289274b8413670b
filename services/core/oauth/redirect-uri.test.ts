import { describe, expect, it } from 'vitest';
import { thrown } from '../../../test/support/thrown.js';
import { InvalidGrant, InvalidRedirectUri, InvalidRequest } from '../errors/index.js';
import { assertCodeRedirectUri, matchRedirectUri, selectRedirectUri, validateRegisteredRedirectUri } from './redirect-uri.js';

describe('validateRegisteredRedirectUri', () => {
  it.each([
    ['https', 'https://app.example.com/callback'],
    ['https with port, path and query', 'https://app.example.com:8443/cb?tenant=a'],
    ['http on 127.0.0.1', 'http://127.0.0.1/callback'],
    ['http on 127.0.0.1 with port', 'http://127.0.0.1:51004/oauth2redirect'],
    ['http on [::1]', 'http://[::1]/callback'],
    ['http on [::1] with port', 'http://[::1]:8080/'],
    ['http on localhost (accepted by default, RFC 8252 §8.3 noted)', 'http://localhost:3000/callback'],
    ['private-use reverse-domain scheme', 'com.example.app:/oauth2redirect'],
    ['private-use scheme with authority', 'com.example.app://callback'],
  ])('accepts %s', (_name, uri) => {
    expect(() => validateRegisteredRedirectUri(uri)).not.toThrow();
  });

  it.each([
    ['empty', ''],
    ['relative path', '/callback'],
    ['scheme-relative', '//app.example.com/cb'],
    ['no scheme', 'app.example.com/callback'],
    ['fragment', 'https://app.example.com/cb#frag'],
    ['empty fragment', 'https://app.example.com/cb#'],
    ['userinfo', 'https://user:pass@app.example.com/cb'],
    ['empty userinfo', 'https://@app.example.com/cb'],
    ['userinfo hiding another host', 'https://app.example.com@evil.example/cb'],
    ['http on a public host', 'http://app.example.com/callback'],
    ['http on a private address', 'http://192.168.1.10/callback'],
    ['http on another loopback address', 'http://127.0.0.2/callback'],
    ['http on a name resembling loopback', 'http://127.0.0.1.evil.example/cb'],
    ['wildcard host', 'https://*.example.com/callback'],
    ['wildcard path', 'https://app.example.com/*'],
    ['javascript', 'javascript:alert(1)'],
    ['javascript uppercase', 'JAVASCRIPT:alert(1)'],
    ['data', 'data:text/html,<script>alert(1)</script>'],
    ['file', 'file:///etc/passwd'],
    ['vbscript', 'vbscript:msgbox(1)'],
    ['private-use scheme without a dot', 'myapp:/callback'],
    ['ftp', 'ftp://files.example.com/cb'],
    ['whitespace', 'https://app.example.com/call back'],
    ['trailing newline', 'https://app.example.com/cb\n'],
    ['non-ASCII', 'https://app.exämple.com/cb'],
    ['https without host', 'https:///callback'],
    ['http without host', 'http:///127.0.0.1/cb'],
    ['a backslash authority', 'https:\\\\evil.example\\cb'],
    ['a backslash in the path', 'https://app.example.com\\@evil.example/cb'],
    ['an uppercase host (not canonical)', 'https://APP.example.com/cb'],
    ['an explicit default port (not canonical)', 'https://app.example.com:443/cb'],
    ['a percent-encoded host', 'https://%61pp.example.com/cb'],
    ['a numeric shorthand of loopback', 'http://2130706433/cb'],
    ['a hex loopback address', 'http://0x7f.0.0.1/cb'],
    ['an IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/cb'],
  ])('rejects %s with invalid_redirect_uri', (_name, uri) => {
    const err = thrown(() => validateRegisteredRedirectUri(uri));
    expect(err).toBeInstanceOf(InvalidRedirectUri);
    expect(err.code).toBe('invalid_redirect_uri');
  });

  it('rejects http://localhost when the policy forbids it', () => {
    const err = thrown(() => validateRegisteredRedirectUri('http://localhost:3000/cb', { allowHttpLocalhost: false }));
    expect(err).toBeInstanceOf(InvalidRedirectUri);
  });

  it('still accepts loopback IP literals when localhost is forbidden', () => {
    expect(() => validateRegisteredRedirectUri('http://127.0.0.1:3000/cb', { allowHttpLocalhost: false })).not.toThrow();
  });
});

describe('matchRedirectUri', () => {
  const registered = [
    'https://app.example.com/callback',
    'http://127.0.0.1/native',
    'http://[::1]:8080/v6?x=1',
    'http://localhost:3000/dev',
    'com.example.app:/oauth2redirect',
  ];

  it.each([
    ['the exact https URI', 'https://app.example.com/callback'],
    ['the exact private-use URI', 'com.example.app:/oauth2redirect'],
    ['the exact loopback URI', 'http://127.0.0.1/native'],
    ['a loopback IPv4 URI with a port', 'http://127.0.0.1:51004/native'],
    ['a loopback IPv6 URI with another port', 'http://[::1]:9999/v6?x=1'],
    ['a loopback IPv6 URI without a port', 'http://[::1]/v6?x=1'],
    ['the exact localhost URI', 'http://localhost:3000/dev'],
  ])('matches %s', (_name, requested) => {
    expect(matchRedirectUri(registered, requested)).toBe(requested);
  });

  it.each([
    ['a trailing slash', 'https://app.example.com/callback/'],
    ['a different case', 'https://APP.example.com/callback'],
    ['an explicit default port', 'https://app.example.com:443/callback'],
    ['an added query', 'https://app.example.com/callback?next=/admin'],
    ['an added fragment', 'https://app.example.com/callback#x'],
    ['a sub-path', 'https://app.example.com/callback/evil'],
    ['a percent-encoded path', 'https://app.example.com/%63allback'],
    ['a path traversal', 'https://app.example.com/callback/../callback'],
    ['http instead of https', 'http://app.example.com/callback'],
    ['a different loopback path', 'http://127.0.0.1:51004/other'],
    ['loopback on another family', 'http://[::1]/native'],
    ['loopback with a non-numeric port', 'http://127.0.0.1:abc/native'],
    ['loopback with an out-of-range port', 'http://127.0.0.1:70000/native'],
    ['loopback with port 0', 'http://127.0.0.1:0/native'],
    ['loopback with userinfo', 'http://127.0.0.1:80@evil.example/native'],
    ['loopback with a different query', 'http://[::1]:9999/v6?x=2'],
    ['localhost on another port (no exception for names)', 'http://localhost:4000/dev'],
    ['https on loopback with another port', 'https://127.0.0.1:51004/native'],
    ['an empty string', ''],
  ])('does not match %s', (_name, requested) => {
    expect(matchRedirectUri(registered, requested)).toBeUndefined();
  });
});

describe('selectRedirectUri', () => {
  it.each([
    ['the only registered URI when omitted', ['https://a.example/cb'], undefined, 'https://a.example/cb'],
    ['the only registered URI when empty', ['https://a.example/cb'], '', 'https://a.example/cb'],
    ['a matching URI among several', ['https://a.example/cb', 'https://a.example/cb2'], 'https://a.example/cb2', 'https://a.example/cb2'],
    ['a loopback URI with its runtime port', ['http://127.0.0.1/cb'], 'http://127.0.0.1:4567/cb', 'http://127.0.0.1:4567/cb'],
  ])('selects %s', (_name, registered, requested, expected) => {
    expect(selectRedirectUri(registered, requested)).toBe(expected);
  });

  it.each([
    ['omitted with several registered', ['https://a.example/cb', 'https://a.example/cb2'], undefined],
    ['omitted with none registered', [], undefined],
    ['not registered', ['https://a.example/cb'], 'https://evil.example/cb'],
    ['a near miss', ['https://a.example/cb'], 'https://a.example/cb?x'],
  ])('rejects %s with invalid_request', (_name, registered, requested) => {
    const err = thrown(() => selectRedirectUri(registered, requested));
    expect(err).toBeInstanceOf(InvalidRequest);
    expect(err.code).toBe('invalid_request');
  });
});

describe('assertCodeRedirectUri', () => {
  const issued = 'https://a.example/cb';
  it.each([
    ['sent in both requests', { issuedRedirectUri: issued, redirectUriWasSent: true, requested: issued }],
    ['omitted in both requests', { issuedRedirectUri: issued, redirectUriWasSent: false }],
    ['omitted at authorization, repeated at token', { issuedRedirectUri: issued, redirectUriWasSent: false, requested: issued }],
  ])('accepts %s', (_name, input) => {
    expect(() => assertCodeRedirectUri(input)).not.toThrow();
  });

  it.each([
    ['missing at the token endpoint', { issuedRedirectUri: issued, redirectUriWasSent: true }],
    ['empty at the token endpoint', { issuedRedirectUri: issued, redirectUriWasSent: true, requested: '' }],
    ['different at the token endpoint', { issuedRedirectUri: issued, redirectUriWasSent: true, requested: 'https://a.example/other' }],
    ['different though omitted before', { issuedRedirectUri: issued, redirectUriWasSent: false, requested: 'https://a.example/other' }],
  ])('rejects %s with invalid_grant', (_name, input) => {
    const err = thrown(() => assertCodeRedirectUri(input));
    expect(err).toBeInstanceOf(InvalidGrant);
    expect(err.code).toBe('invalid_grant');
  });
});

describe('the server\'s own origin keeps its port (review F1: the admin console on a loopback issuer)', () => {
  const issuer = 'http://127.0.0.1:8080';
  const consoleUris = ['http://127.0.0.1:8080/console/callback'];

  it('redirect_uri_server_origin_exact: a code for the console cannot be sent to another loopback port', () => {
    expect(matchRedirectUri(consoleUris, 'http://127.0.0.1:9999/console/callback', { serverOrigin: issuer })).toBeUndefined();
    expect(() => selectRedirectUri(consoleUris, 'http://127.0.0.1:9999/console/callback', { serverOrigin: issuer })).toThrow(/does not match/);
    expect(matchRedirectUri(consoleUris, 'http://127.0.0.1:8080/console/callback', { serverOrigin: issuer })).toBe('http://127.0.0.1:8080/console/callback');
  });

  it('a native app\'s loopback URI on another origin still accepts any port (RFC 8252 §7.3)', () => {
    expect(matchRedirectUri(['http://127.0.0.1:3000/cb'], 'http://127.0.0.1:51004/cb', { serverOrigin: issuer })).toBe('http://127.0.0.1:51004/cb');
    expect(matchRedirectUri(['http://127.0.0.1/cb'], 'http://127.0.0.1:51004/cb', { serverOrigin: issuer })).toBe('http://127.0.0.1:51004/cb');
  });
});
