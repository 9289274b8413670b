// What the soak's load needs, created through the stack's REST admin API (/v1 through Envoy) as an
// operator would: the sample API registered as a service, a client allowed to call it, a web app
// for the code flow, and users to sign in as.
import { randomBytes } from 'node:crypto';
import { hasErrorCode } from '../../services/core/errors/index.js';
import type { Store } from '../../services/core/store/index.js';
import type { SoakTarget } from './driver.js';

export const SAMPLE_API_AUDIENCE = 'https://sample-api.authmesh.test';

async function json(url: string, init: RequestInit): Promise<Record<string, unknown>> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** Creates the soak's clients, service and users on the stack at `url` with the admin client. */
export async function setUpSoak(url: string, admin: { id: string; secret: string }, users = 6): Promise<SoakTarget> {
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(admin.id)}:${encodeURIComponent(admin.secret)}`).toString('base64')}`;
  const token = (await json(`${url}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&scope=authmesh.admin',
  })) as { access_token: string };
  const post = (path: string, body: unknown) =>
    json(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

  await post('/v1/services', {
    display_name: 'sample API',
    audience: SAMPLE_API_AUDIENCE,
    endpoints: [{ method: 'GET', path: '/sample/hello', scope: 'sample.read' }],
  });
  const caller = (await post('/v1/clients', {
    client_name: 'soak caller',
    client_type: 'CLIENT_TYPE_CONFIDENTIAL',
    grant_types: ['GRANT_TYPE_CLIENT_CREDENTIALS'],
    token_endpoint_auth_method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC',
    scopes: ['sample.read'],
    audience: [SAMPLE_API_AUDIENCE],
  })) as { client: { client_id: string }; client_secret: string };
  const redirectUri = 'https://soak-app.example.com/callback';
  const webApp = (await post('/v1/clients', {
    client_name: 'soak web app',
    client_type: 'CLIENT_TYPE_CONFIDENTIAL',
    grant_types: ['GRANT_TYPE_AUTHORIZATION_CODE', 'GRANT_TYPE_REFRESH_TOKEN'],
    token_endpoint_auth_method: 'TOKEN_ENDPOINT_AUTH_METHOD_CLIENT_SECRET_BASIC',
    redirect_uris: [redirectUri],
    scopes: ['profile'],
  })) as { client: { client_id: string }; client_secret: string };
  const people: SoakTarget['users'] = [];
  for (let i = 0; i < users; i++) {
    const person = { username: `soak-user-${i}-${randomBytes(4).toString('hex')}`, password: randomBytes(18).toString('base64url') };
    await post('/v1/users', { user: { username: person.username }, password: person.password });
    people.push(person);
  }
  return {
    url,
    admin,
    caller: { id: caller.client.client_id, secret: caller.client_secret },
    webApp: { id: webApp.client.client_id, secret: webApp.client_secret, redirectUri },
    users: people,
  };
}

/**
 * How many of the acknowledged writes the stack's SQL store no longer has (review F9): each read
 * straight from the store (the services' own store code on the stack's Postgres, no grid copy, no
 * near cache, no service in between), so a write lost from the store cannot hide behind a cached
 * copy that still answers. A NotFound is a lost write; any other failure (Postgres still coming
 * back from the last fault) is retried for up to 60 s, then the read-back fails.
 */
export async function missingWrites(store: Pick<Store, 'clients' | 'users'>, writes: { kind: 'client' | 'user'; id: string }[]): Promise<number> {
  let missing = 0;
  for (const w of writes) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if (w.kind === 'client') await store.clients.get(w.id);
        else await store.users.get(w.id);
        break;
      } catch (err) {
        if (hasErrorCode(err, 'not_found')) {
          missing++;
          break;
        }
        if (Date.now() > deadline) throw new Error(`reading back ${w.kind} ${w.id} from the store: ${String(err)} for 60 s`, { cause: err });
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }
  return missing;
}
