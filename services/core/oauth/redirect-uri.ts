// Redirect URIs: what a client may register, and how a request's redirect_uri is matched.
import { InvalidGrant, InvalidRedirectUri, InvalidRequest } from '../errors/index.js';

/** Loopback IP literals as they appear in URL.hostname (RFC 8252 §7.3). */
const LOOPBACK_IP_HOSTS = ['127.0.0.1', '[::1]'] as const;

// Schemes that execute or read local content in the user agent instead of navigating.
const FORBIDDEN_SCHEMES = ['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:'] as const;

// RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then the authority if "//".
const SCHEME_AND_AUTHORITY = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?/;

export interface RedirectUriPolicy {
  /**
   * Accept http://localhost. RFC 8252 §8.3 calls it NOT RECOMMENDED because the name may resolve
   * off the loopback interface; we still accept it by default because web developers register it
   * for local development and current browsers pin localhost to loopback. It never gets the
   * loopback port exception: that belongs to IP literals only (RFC 8252 §7.3). Set false to
   * require 127.0.0.1 / [::1].
   */
  allowHttpLocalhost?: boolean;
}

export function isLoopbackIpHost(hostname: string): boolean {
  return (LOOPBACK_IP_HOSTS as readonly string[]).includes(hostname);
}

/**
 * Validates one redirect URI at client registration (RFC 7591 §2, RFC 6749 §3.1.2) and throws
 * InvalidRedirectUri with a reason. Accepted: https URIs; http on loopback (native apps); and
 * private-use schemes in reverse-domain form (native apps).
 */
export function validateRegisteredRedirectUri(uri: string, policy: RedirectUriPolicy = {}): void {
  const allowLocalhost = policy.allowHttpLocalhost ?? true;
  // RFC 3986 §2: a URI has no whitespace or control characters; refusing them keeps matching exact.
  if (uri === '' || /[^\x21-\x7e]/.test(uri)) {
    throw new InvalidRedirectUri('redirect URI must be a non-empty URI of printable ASCII characters');
  }
  // WHATWG URL parsing reads a backslash as a slash, so the string and its meaning would differ.
  if (uri.includes('\\')) throw new InvalidRedirectUri('redirect URI must not contain backslashes');
  // RFC 9700 §4.1.3: patterns open redirects; only exact URIs can be registered.
  if (uri.includes('*')) throw new InvalidRedirectUri('redirect URI must not contain wildcards');
  // RFC 6749 §3.1.2: the redirection endpoint MUST NOT include a fragment component.
  if (uri.includes('#')) throw new InvalidRedirectUri('redirect URI must not contain a fragment');
  const head = SCHEME_AND_AUTHORITY.exec(uri);
  // RFC 6749 §3.1.2: the redirection endpoint URI MUST be an absolute URI.
  if (head === null) throw new InvalidRedirectUri('redirect URI must be an absolute URI');
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new InvalidRedirectUri('redirect URI must be an absolute URI');
  }
  const scheme = parsed.protocol;
  // RFC 9700 §4.1.3 / RFC 6749 §10.6: schemes that run script or read local data are never targets.
  if ((FORBIDDEN_SCHEMES as readonly string[]).includes(scheme)) {
    throw new InvalidRedirectUri(`redirect URI scheme ${scheme} is not allowed`);
  }
  const authority = head[2];
  // RFC 9700 §4.1.3 / RFC 3986 §7.6: userinfo makes URIs look like another host; refuse it.
  if (authority !== undefined && authority.includes('@')) {
    throw new InvalidRedirectUri('redirect URI must not contain user information');
  }
  if (scheme === 'https:' || scheme === 'http:') {
    // RFC 3986 §3.2: http(s) URIs need an authority; WHATWG parsers would otherwise invent one.
    if (authority === undefined || authority === '') throw new InvalidRedirectUri('redirect URI must have a host');
    // RFC 9700 §4.1.3: the registered string is compared verbatim, so it must be the host the
    // browser will actually use (lowercase; no encoded, numeric-shorthand or default-port variants).
    if (authority !== parsed.host) throw new InvalidRedirectUri('redirect URI host must be written in canonical form');
  }
  if (scheme === 'https:') return;
  if (scheme === 'http:') {
    // RFC 8252 §7.3: plain http is allowed only on the loopback interface.
    if (isLoopbackIpHost(parsed.hostname)) return;
    // RFC 8252 §8.3: localhost is NOT RECOMMENDED; accepted only when the policy allows it.
    if (parsed.hostname === 'localhost' && allowLocalhost) return;
    // RFC 9700 §2.6 / RFC 6749 §3.1.2.1: everything else must use TLS.
    throw new InvalidRedirectUri('http redirect URIs are allowed only on loopback (127.0.0.1 or [::1]); use https');
  }
  // RFC 8252 §7.1: private-use schemes must be reverse domain names, so they contain a period.
  if (!scheme.slice(0, -1).includes('.')) {
    throw new InvalidRedirectUri('redirect URI scheme must be https, http on loopback, or a reverse-domain private-use scheme');
  }
}

// RFC 8252 §7.3: for loopback IP literals only the port may vary, so compare everything else.
const LOOPBACK_PREFIX = /^http:\/\/(127\.0\.0\.1|\[::1\])(?::(\d{1,5}))?(?=[/?]|$)/;

function withoutLoopbackPort(uri: string): string | undefined {
  const match = LOOPBACK_PREFIX.exec(uri);
  if (match === null) return undefined;
  const port = match[2];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return undefined;
  return `http://${match[1]}${uri.slice(match[0].length)}`;
}

/** The scheme://host:port of a URI as written (lower-cased), or undefined when it has none. */
function originOf(uri: string): string | undefined {
  try {
    return new URL(uri).origin;
  } catch {
    return undefined;
  }
}

export interface RedirectMatchOptions {
  /**
   * The authorization server's own origin (its issuer's). A redirect URI registered there is a web
   * page of the server's own (the admin console), never a native app on an ephemeral port: it is
   * matched exactly, without the loopback port exception, even when the issuer is a loopback IP.
   */
  serverOrigin?: string | undefined;
}

/**
 * Finds the registered redirect URI a request's redirect_uri designates, or undefined. Returns the
 * requested URI (with the port the native app listens on) when it matches.
 */
export function matchRedirectUri(registered: readonly string[], requested: string, options: RedirectMatchOptions = {}): string | undefined {
  // RFC 9700 §2.1 / §4.1.3: simple string comparison (RFC 3986 §6.2.1), no normalization.
  if (registered.includes(requested)) return requested;
  // RFC 8252 §7.3: a loopback IP redirect must accept any port, the app picks it at run time.
  const requestedBase = withoutLoopbackPort(requested);
  if (requestedBase === undefined) return undefined;
  const serverOrigin = options.serverOrigin === undefined ? undefined : originOf(options.serverOrigin);
  for (const candidate of registered) {
    // RFC 8252 §7.3 is for native apps: a page on the server's own origin keeps its port (review F1:
    // any local process could otherwise receive the admin console's codes on another port).
    if (serverOrigin !== undefined && originOf(candidate) === serverOrigin) continue;
    if (withoutLoopbackPort(candidate) === requestedBase) return requested;
  }
  return undefined;
}

/**
 * Resolves the redirect URI of an authorization request. Throws InvalidRequest; the caller must
 * not redirect that error to any URI (RFC 6749 §4.1.2.1).
 */
export function selectRedirectUri(registered: readonly string[], requested?: string, options: RedirectMatchOptions = {}): string {
  // RFC 6749 §3.1: a parameter sent without a value is treated as omitted.
  if (requested === undefined || requested === '') {
    // RFC 6749 §3.1.2.3: redirect_uri may be omitted only when exactly one URI is registered.
    if (registered.length === 1 && registered[0] !== undefined) return registered[0];
    throw new InvalidRequest(registered.length === 0 ? 'the client has no registered redirect URI' : 'redirect_uri is required because the client registered several');
  }
  const match = matchRedirectUri(registered, requested, options);
  // RFC 6749 §3.1.2.4 / RFC 9700 §4.1.3: an unregistered redirect URI is an open-redirect attempt.
  if (match === undefined) throw new InvalidRequest('redirect_uri does not match a registered redirect URI');
  return match;
}

export interface CodeRedirectBinding {
  /** The redirect URI the code was issued for. */
  issuedRedirectUri: string;
  /** Whether the authorization request carried redirect_uri explicitly. */
  redirectUriWasSent: boolean;
  /** The redirect_uri sent to the token endpoint, if any. */
  requested?: string | undefined;
}

/** Token endpoint: the redirect_uri must repeat the authorization request's; throws InvalidGrant. */
export function assertCodeRedirectUri({ issuedRedirectUri, redirectUriWasSent, requested }: CodeRedirectBinding): void {
  const sent = requested !== undefined && requested !== '';
  // RFC 6749 §4.1.3: required if it was in the authorization request, and then identical.
  if (redirectUriWasSent && !sent) throw new InvalidGrant('redirect_uri is required because the authorization request included it');
  // RFC 6749 §4.1.3: when present it must be identical to the one the code was issued for.
  if (sent && requested !== issuedRedirectUri) throw new InvalidGrant('redirect_uri does not match the authorization request');
}
