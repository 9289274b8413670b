// The soak's load (issue 18): a realistic mix of OAuth traffic through Envoy at a fixed rate
// (open loop: a slow server does not slow the offered load), recording every outcome with its
// time, every acknowledged write and every token it was given, so invariants can be checked
// after the run (invariants.ts). Nothing here asserts: it records.
//
// The mix, per operation started:
//   client_credentials  a token for the sample API's caller (RFC 6749 §4.4)
//   ext_authz           GET /sample/hello through Envoy with a live token (jwt_authn + ext_authz Check)
//   introspection       RFC 7662 of a live or revoked token, by the client it was issued to
//   revocation          RFC 7009 of a live token; once acknowledged, the token is probed again later
//   code                authorization code + PKCE through the login form (a browser with a session
//                       cookie: the first flow of each browser logs in), redeemed at the token endpoint;
//                       one in five codes is redeemed twice at once (RFC 6749 §4.1.2: at most one wins)
//   refresh             rotation of a refresh token (RFC 9700 §4.14.2); one in five is rotated twice
//                       at once (at most one wins; the reuse revokes the family)
//   admin               a client or a user created through the REST admin API (/v1), acknowledged
//                       writes checked at the end
import { createHash, randomBytes } from 'node:crypto';
import { Browser, formFor, locationOf } from '../../gateway/routes/authorize-test-support.js';

export type OperationKind = 'client_credentials' | 'ext_authz' | 'introspection' | 'revocation' | 'revocation_probe' | 'code' | 'code_replay' | 'refresh' | 'refresh_race' | 'admin_client' | 'admin_user';

/** One finished operation: when it started and ended (ms since the epoch), and how it went. */
export interface Outcome {
  kind: OperationKind;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** Why it failed: an HTTP status and the RFC error code, or the transport error's code. */
  failure?: string;
}

/** What the soak was given or told, for the invariants. */
export interface SoakLedger {
  outcomes: Outcome[];
  /** Writes the server acknowledged (2xx): what must exist at the end. */
  acknowledged: { kind: 'client' | 'user'; id: string; at: number }[];
  /** A code the server accepted more than once (must stay empty). */
  codesRedeemedTwice: string[];
  /** A refresh token the server rotated more than once (must stay empty). */
  refreshRotatedTwice: string[];
  /** A token accepted (ext_authz 200 or introspection active) after its revocation was acknowledged. */
  acceptedAfterRevocation: { via: 'ext_authz' | 'introspection'; revokedAt: number; acceptedAt: number }[];
  /** Tokens issued, by kind. */
  tokensIssued: number;
}

/** Where the stack is and what the setup created. */
export interface SoakTarget {
  /** Envoy's URL, the issuer. */
  url: string;
  admin: { id: string; secret: string };
  /** A confidential client allowed client_credentials for the sample API (scope sample.read). */
  caller: { id: string; secret: string };
  /** A confidential client allowed authorization_code + refresh_token, first-party (no consent), with this redirect URI. */
  webApp: { id: string; secret: string; redirectUri: string };
  /** Users the code flow signs in as (username, password). */
  users: { username: string; password: string }[];
}

export interface SoakLoad {
  /** Operations started per second. */
  rate: number;
  /** Runs until this says so, asked before every operation with the time since the start (ms). */
  done: (elapsedMs: number) => boolean;
  /** At most this many operations in flight; beyond, an operation is recorded as failed ('overload') without being sent. */
  maxInFlight?: number;
  /** Each request's bound (ms). */
  timeoutMs?: number;
}

const WEIGHTS: [OperationKind, number][] = [
  ['client_credentials', 22],
  ['ext_authz', 25],
  ['introspection', 12],
  ['revocation', 5],
  ['code', 8],
  ['refresh', 12],
  ['admin_client', 8],
  ['admin_user', 8],
];

/** Picks an operation by the mix's weights from a uniform number in [0, 1). */
export function pickOperation(u: number): OperationKind {
  const total = WEIGHTS.reduce((n, [, w]) => n + w, 0);
  let x = u * total;
  for (const [kind, w] of WEIGHTS) {
    if (x < w) return kind;
    x -= w;
  }
  return WEIGHTS[WEIGHTS.length - 1]![0];
}

class Failure extends Error {}

const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${encodeURIComponent(c.id)}:${encodeURIComponent(c.secret)}`).toString('base64')}`;

/**
 * Runs the mix against `target` until `load.done` and returns the ledger. Revoked tokens are
 * probed again until the end (every ~2 s), so a revocation that stops holding after a fault is seen.
 */
export async function runSoakLoad(target: SoakTarget, load: SoakLoad): Promise<SoakLedger> {
  const ledger: SoakLedger = { outcomes: [], acknowledged: [], codesRedeemedTwice: [], refreshRotatedTwice: [], acceptedAfterRevocation: [], tokensIssued: 0 };
  const timeoutMs = load.timeoutMs ?? 5_000;
  const maxInFlight = load.maxInFlight ?? 256;
  const live: string[] = [];
  const revoked: { token: string; at: number }[] = [];
  const refreshTokens: string[] = [];
  const browsers = target.users.map((u) => ({ user: u, browser: new Browser(target.url), busy: false }));
  let adminToken: { value: string; until: number } | undefined;
  let inFlight = 0;
  let serial = 0;
  // The login form is throttled per source address (at most 4 password checks at once, then
  // 429 slow_down), and every browser here is one address: at most 3 sign in at a time.
  let signingIn = 0;
  const signInSlot = async () => {
    while (signingIn >= 3) await new Promise((resolve) => setTimeout(resolve, 20));
    signingIn++;
  };

  const call = async (path: string, init: RequestInit): Promise<Response> => {
    try {
      return await fetch(new URL(path, target.url), { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      throw new Failure(e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name ?? 'network'));
    }
  };
  const failed = async (res: Response): Promise<never> => {
    let code = '';
    try {
      const body = (await res.json()) as { error?: string; error_description?: string; code?: number };
      code = body.error ?? (body.code !== undefined ? `grpc_${body.code}` : '');
      // A 400's description says which rule refused (never a token: error descriptions carry none).
      if (res.status === 400 && body.error_description) code += ` (${body.error_description.slice(0, 60)})`;
    } catch {
      // not JSON
    }
    throw new Failure(`${res.status}${code ? ` ${code}` : ''}`);
  };
  const form = (client: { id: string; secret: string }, fields: Record<string, string>): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client) },
    body: new URLSearchParams(fields).toString(),
  });
  const pick = <T>(xs: T[]): T | undefined => xs[Math.floor(Math.random() * xs.length)];
  const take = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : xs.splice(Math.floor(Math.random() * xs.length), 1)[0]);

  const clientCredentials = async (): Promise<string> => {
    const res = await call('/oauth2/token', form(target.caller, { grant_type: 'client_credentials', scope: 'sample.read' }));
    if (res.status !== 200) return failed(res);
    const token = ((await res.json()) as { access_token: string }).access_token;
    ledger.tokensIssued++;
    live.push(token);
    if (live.length > 500) live.shift();
    return token;
  };
  const adminBearer = async (): Promise<string> => {
    if (adminToken && adminToken.until > Date.now()) return adminToken.value;
    const res = await call('/oauth2/token', form(target.admin, { grant_type: 'client_credentials', scope: 'authmesh.admin' }));
    if (res.status !== 200) return failed(res);
    const body = (await res.json()) as { access_token: string; expires_in: number };
    ledger.tokensIssued++;
    adminToken = { value: body.access_token, until: Date.now() + Math.min(body.expires_in, 300) * 500 };
    return body.access_token;
  };
  /** 'active' or 'inactive' as the token's client sees it. */
  const introspect = async (token: string, by: typeof target.caller | typeof target.webApp = target.caller): Promise<boolean> => {
    const res = await call('/oauth2/introspect', form(by, { token, token_type_hint: 'access_token' }));
    if (res.status !== 200) return failed(res);
    return ((await res.json()) as { active: boolean }).active;
  };
  const callApi = async (token: string): Promise<number> => (await call('/sample/hello', { headers: { authorization: `Bearer ${token}` } })).status;

  const codeFlow = async (): Promise<void> => {
    const slot = browsers.find((b) => !b.busy);
    if (!slot) throw new Failure('no_free_browser');
    slot.busy = true;
    try {
      const verifier = randomBytes(32).toString('base64url');
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      const state = randomBytes(8).toString('hex');
      const query = new URLSearchParams({ response_type: 'code', client_id: target.webApp.id, redirect_uri: target.webApp.redirectUri, scope: 'profile', state, code_challenge: challenge, code_challenge_method: 'S256' });
      // The browser's requests are bounded like every other call.
      const get = (url: string) => slot.browser.fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
      const post = (page: string, action: string, extra: Record<string, string>) =>
        slot.browser.fetch(action, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ ...formFor(page, action).fields, ...extra }).toString(),
          signal: AbortSignal.timeout(timeoutMs),
        });
      let code: string | undefined;
      try {
        let res = await get(`/oauth2/authorize?${query}`);
        for (let step = 0; step < 6 && code === undefined; step++) {
          if (res.status === 302 || res.status === 303) {
            const next = locationOf(res, target.url);
            if (next.origin !== new URL(target.url).origin) {
              code = next.searchParams.get('code') ?? undefined;
              if (code === undefined) throw new Failure(`authorize ${next.searchParams.get('error') ?? 'no code'}`);
              if (next.searchParams.get('state') !== state) throw new Failure('state mismatch');
              break;
            }
            res = await get(next.href);
            continue;
          }
          if (res.status !== 200) return await failed(res);
          const page = await res.text();
          if (page.includes('action="/oauth2/login"')) {
            await signInSlot();
            try {
              res = await post(page, '/oauth2/login', { username: slot.user.username, password: slot.user.password });
            } finally {
              signingIn--;
            }
          }
          else if (page.includes('action="/oauth2/consent"')) res = await post(page, '/oauth2/consent', { decision: 'allow' });
          else throw new Failure('unexpected page');
        }
      } catch (err) {
        if (err instanceof Failure) throw err;
        const e = err as { name?: string; cause?: { code?: string } };
        throw new Failure(e.name === 'TimeoutError' ? 'timeout' : (e.cause?.code ?? e.name ?? 'network'));
      }
      if (code === undefined) throw new Failure('authorize too many steps');
      const redeem = () => call('/oauth2/token', form(target.webApp, { grant_type: 'authorization_code', code: code!, redirect_uri: target.webApp.redirectUri, code_verifier: verifier }));
      const race = Math.random() < 0.2;
      const answers = await Promise.all(race ? [redeem(), redeem()] : [redeem()]);
      const wins = answers.filter((r) => r.status === 200);
      if (race) {
        const startedAt = Date.now();
        if (wins.length > 1) ledger.codesRedeemedTwice.push(code.slice(0, 8));
        ledger.outcomes.push({ kind: 'code_replay', startedAt, endedAt: Date.now(), ok: wins.length <= 1 });
      }
      if (wins.length === 0) return failed(answers[0]!);
      const body = (await wins[0]!.json()) as { access_token: string; refresh_token?: string };
      ledger.tokensIssued++;
      // RFC 6749 §4.1.2: the replay revoked the grant (gid), so the winner's access token is
      // refused from the moment both answers are in, asked by its own client (RFC 7662 §4).
      // Only when the loser was refused as a replay (400): one lost to a fault revoked nothing.
      if (race && wins.length === 1 && answers.some((r) => r.status === 400)) {
        const revokedAt = Date.now();
        if (await introspect(body.access_token, target.webApp)) ledger.acceptedAfterRevocation.push({ via: 'introspection', revokedAt, acceptedAt: Date.now() });
      }
      // RFC 6749 §4.1.2: the replay revoked what the code had issued; its refresh token is not kept.
      if (body.refresh_token && !race) {
        refreshTokens.push(body.refresh_token);
        if (refreshTokens.length > 200) refreshTokens.shift();
      }
    } finally {
      slot.busy = false;
    }
  };

  const refresh = async (): Promise<void> => {
    const token = take(refreshTokens);
    if (token === undefined) return codeFlow();
    const rotate = () => call('/oauth2/token', form(target.webApp, { grant_type: 'refresh_token', refresh_token: token }));
    const race = Math.random() < 0.2;
    const answers = await Promise.all(race ? [rotate(), rotate()] : [rotate()]);
    const wins = answers.filter((r) => r.status === 200);
    if (race) {
      if (wins.length > 1) ledger.refreshRotatedTwice.push(token.slice(0, 8));
      ledger.outcomes.push({ kind: 'refresh_race', startedAt: Date.now(), endedAt: Date.now(), ok: wins.length <= 1 });
      // RFC 9700 §4.14.2: the reuse revoked the family; its new token is not kept.
      return;
    }
    if (wins.length === 0) return failed(answers[0]!);
    const body = (await wins[0]!.json()) as { refresh_token?: string };
    ledger.tokensIssued++;
    if (body.refresh_token) refreshTokens.push(body.refresh_token);
  };

  const revoke = async (): Promise<void> => {
    let token = take(live);
    if (token === undefined) {
      token = await clientCredentials();
      live.splice(live.indexOf(token), 1);
    }
    const res = await call('/oauth2/revoke', form(target.caller, { token, token_type_hint: 'access_token' }));
    if (res.status !== 200) return failed(res);
    const at = Date.now();
    revoked.push({ token, at });
    // At once after the acknowledgement, twice (Envoy round-robins the Checks over both token
    // instances): the revocation must already hold on every instance (review 10 F4).
    for (let i = 0; i < 2; i++) {
      const status = await callApi(token);
      if (status === 200) ledger.acceptedAfterRevocation.push({ via: 'ext_authz', revokedAt: at, acceptedAt: Date.now() });
    }
  };

  const probeRevoked = async (): Promise<void> => {
    const r = pick(revoked);
    if (!r) return;
    const viaApi = Math.random() < 0.5;
    const acceptedAt = Date.now();
    if (viaApi) {
      const status = await callApi(r.token);
      if (status === 200) ledger.acceptedAfterRevocation.push({ via: 'ext_authz', revokedAt: r.at, acceptedAt });
      else if (status !== 401 && status !== 403) throw new Failure(`${status}`);
    } else if (await introspect(r.token)) {
      ledger.acceptedAfterRevocation.push({ via: 'introspection', revokedAt: r.at, acceptedAt });
    }
  };

  const adminCreate = async (kind: 'client' | 'user'): Promise<void> => {
    const bearer = await adminBearer();
    const n = ++serial;
    const body =
      kind === 'client'
        ? { client_name: `soak client ${n}`, client_type: 'CLIENT_TYPE_CONFIDENTIAL', grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'], token_endpoint_auth_method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC', scopes: ['sample.read'] }
        : { user: { username: `soak-${randomBytes(6).toString('hex')}` }, password: randomBytes(12).toString('base64url') };
    const res = await call(kind === 'client' ? '/v1/clients' : '/v1/users', { method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (res.status !== 200) return failed(res);
    const answer = (await res.json()) as { client?: { client_id: string }; user?: { user_id: string } };
    const id = kind === 'client' ? answer.client?.client_id : answer.user?.user_id;
    if (!id) throw new Failure('no id in the answer');
    ledger.acknowledged.push({ kind, id, at: Date.now() });
  };

  const operations: Record<Exclude<OperationKind, 'code_replay' | 'refresh_race'>, () => Promise<unknown>> = {
    client_credentials: clientCredentials,
    ext_authz: async () => {
      const token = pick(live) ?? (await clientCredentials());
      const status = await callApi(token);
      // A token revoked meanwhile by a revocation operation is refused: not a failure.
      if (status !== 200 && !(status === 401 && !live.includes(token))) throw new Failure(`${status}`);
    },
    introspection: async () => {
      const token = pick(live) ?? (await clientCredentials());
      if (!(await introspect(token)) && live.includes(token)) throw new Failure('live token inactive');
    },
    revocation: revoke,
    revocation_probe: probeRevoked,
    code: codeFlow,
    refresh,
    admin_client: () => adminCreate('client'),
    admin_user: () => adminCreate('user'),
  };

  const start = (kind: keyof typeof operations) => {
    const startedAt = Date.now();
    if (inFlight >= maxInFlight) {
      ledger.outcomes.push({ kind, startedAt, endedAt: startedAt, ok: false, failure: 'overload' });
      return undefined;
    }
    inFlight++;
    return operations[kind]()
      .then(
        () => ledger.outcomes.push({ kind, startedAt, endedAt: Date.now(), ok: true }),
        (err: unknown) => ledger.outcomes.push({ kind, startedAt, endedAt: Date.now(), ok: false, failure: err instanceof Failure ? err.message : `error ${(err as Error).message?.slice(0, 80)}` }),
      )
      .finally(() => inFlight--);
  };

  const pending = new Set<Promise<unknown>>();
  const track = (p: Promise<unknown> | undefined) => {
    if (!p) return;
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const began = Date.now();
  const interval = 1000 / load.rate;
  let next = began;
  let lastProbe = began;
  while (!load.done(Date.now() - began)) {
    track(start(pickOperation(Math.random()) as keyof typeof operations));
    if (Date.now() - lastProbe >= 2_000 && revoked.length > 0) {
      lastProbe = Date.now();
      track(start('revocation_probe'));
    }
    next += interval;
    const wait = next - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
  }
  await Promise.allSettled([...pending]);
  // Every revoked token once more, after everything else settled.
  for (const r of revoked.slice(-50)) {
    try {
      if ((await callApi(r.token)) === 200) ledger.acceptedAfterRevocation.push({ via: 'ext_authz', revokedAt: r.at, acceptedAt: Date.now() });
    } catch {
      // a transport failure is not an acceptance
    }
  }
  return ledger;
}
