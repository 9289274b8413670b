// Small HTTP helpers for setting up the sides (not used under load).

/** Form headers with RFC 6749 §2.3.1 Basic client authentication. */
export function formHeaders(clientId: string, clientSecret: string): Record<string, string> {
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64');
  return { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` };
}

export interface TokenResponse {
  access_token: string;
  refresh_token?: string;
  token_type: string;
}

/** POSTs a form with Basic auth and returns the JSON answer; throws with the body on non-200. */
export async function postForm(url: string, clientId: string, clientSecret: string, body: string): Promise<TokenResponse> {
  const res = await fetch(url, { method: 'POST', headers: formHeaders(clientId, clientSecret), body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${url}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as TokenResponse;
}

/**
 * Throws unless `token` is an RFC 9068 JWT access token signed ES256 (header typ at+jwt, alg
 * ES256): every side of the token rows must do the same work. `typ` overrides the expected
 * header typ for a peer that labels its JWT access tokens otherwise (Hydra: `JWT`).
 */
export function expectJwt(token: string, who: string, typ = 'at+jwt'): void {
  const [header] = token.split('.');
  let parsed: { alg?: string; typ?: string } = {};
  try {
    parsed = JSON.parse(Buffer.from(header ?? '', 'base64url').toString()) as typeof parsed;
  } catch {
    // reported below
  }
  if (parsed.alg !== 'ES256' || parsed.typ?.toLowerCase() !== typ.toLowerCase()) {
    throw new Error(`${who}: expected an ES256 at+jwt access token, got header ${JSON.stringify(parsed)}`);
  }
}

/**
 * Throws unless introspecting `token` at `url` (RFC 7662 §2.1, Basic client authentication)
 * answers active: a row that measured "inactive" answers would measure the wrong thing.
 */
export async function expectActive(url: string, clientId: string, clientSecret: string, token: string, who: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: formHeaders(clientId, clientSecret), body: `token=${encodeURIComponent(token)}` });
  const text = await res.text();
  if (res.status !== 200 || (JSON.parse(text) as { active?: unknown }).active !== true) throw new Error(`${who}: introspection did not answer active: HTTP ${res.status} ${text}`);
}
