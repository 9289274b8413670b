// Back-Channel Logout 1.0 with real HTTP receivers on 127.0.0.1: the logout token verifies
// against the JWKS and carries exactly the §2.4 claims; ending a session never waits for a
// receiver; a hanging or failing receiver gets bounded retries and the failure is audited; the
// server-side request rules refuse forbidden targets.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, ClientType, GrantType } from '../../gen/ts/authmesh/client/v1/client.js';
import { resolvePairwiseSalt } from '../core/config/data-dir-secrets.js';
import { BACKCHANNEL_LOGOUT_EVENT, subjectIdentifier } from '../core/oauth/index.js';
import { silentLogger } from '../core/log/index.js';
import type { NewAuditEvent } from '../core/store/index.js';
import { startTestMesh, type TestMesh } from '../../test/support/mesh.js';
import { uniqueId } from '../../test/support/ids.js';
import { createBackchannelLogout, isAllowedTarget } from './backchannel-logout.js';
import { publicSessionId } from './login-sessions.js';
import { seedUser } from './user-test-support.js';

interface Receiver {
  url: string;
  /** Request bodies received, in order. */
  bodies: string[];
  /** Resolves at the next request. */
  next(): Promise<string>;
  close(): Promise<void>;
}

/** An HTTP receiver on 127.0.0.1 that answers each request with what `answer` does. */
async function receiver(answer: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<Receiver> {
  const bodies: string[] = [];
  let waiters: ((b: string) => void)[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      bodies.push(body);
      const w = waiters;
      waiters = [];
      for (const f of w) f(body);
      answer(req, res, bodies.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel-logout`,
    bodies,
    next: () => new Promise((resolve) => waiters.push(resolve)),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

let t: TestMesh;
let admin: string;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await startTestMesh({ AUTHMESH_BACKCHANNEL_LOGOUT_ALLOW_HTTP_LOOPBACK: 'true' });
  admin = await t.bearer();
});
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await t?.close();
});

async function rpWith(backchannelLogoutUri: string, subjectType = ''): Promise<string> {
  const res = await t.anon.client.createClient(
    {
      client: Client.fromPartial({
        clientId: uniqueId('rp'),
        clientType: ClientType.CLIENT_TYPE_CONFIDENTIAL,
        grantTypes: [GrantType.GRANT_TYPE_AUTHORIZATION_CODE],
        redirectUris: ['https://rp.example.com/cb'],
        scopes: ['openid'],
        backchannelLogoutUri,
        backchannelLogoutSessionRequired: true,
        subjectType,
      }),
    },
    { bearer: admin },
  );
  return res.client!.clientId;
}

async function sessionWith(...clientIds: string[]) {
  const u = await seedUser(t.store);
  const { sessionId } = await t.peers.user.authenticateUser({ username: u.username, password: u.password, clientId: '', remoteIp: '', startSession: true });
  for (const clientId of clientIds) expect((await t.peers.user.recordSessionClient({ sessionId, clientId })).recorded).toBe(true);
  return { userId: u.userId, sessionId, sid: publicSessionId(sessionId) };
}

describe('back-channel logout through the user service', () => {
  it('POSTs a logout token that verifies against the JWKS, typed logout+jwt, with the §2.4 claims and no nonce', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    receivers.push(r);
    const rp = await rpWith(r.url);
    const s = await sessionWith(rp);
    const received = r.next();
    await t.peers.user.endSession({ sessionId: s.sessionId });
    const body = new URLSearchParams(await received);
    expect([...body.keys()]).toEqual(['logout_token']);
    const token = body.get('logout_token')!;
    const { keys } = await t.peers.key.getJwks({});
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet({ keys: keys as JWK[] }), { issuer: t.config.issuer, audience: rp, typ: 'logout+jwt' });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({ sub: s.userId, sid: s.sid, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } });
    expect(payload).not.toHaveProperty('nonce');
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(120);
    expect(decodeProtectedHeader(token).typ).toBe('logout+jwt');
  });

  it('names the user to a pairwise client by its pairwise sub, the one its ID Tokens carry (§2.4, OIDC Core §8.1)', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    receivers.push(r);
    const rp = await rpWith(r.url, 'pairwise');
    const s = await sessionWith(rp);
    const received = r.next();
    await t.peers.user.endSession({ sessionId: s.sessionId });
    const { payload } = await jwtVerify(new URLSearchParams(await received).get('logout_token')!, createLocalJWKSet({ keys: (await t.peers.key.getJwks({})).keys as JWK[] }), {
      issuer: t.config.issuer,
      audience: rp,
      typ: 'logout+jwt',
    });
    const expected = subjectIdentifier({ subjectType: 'pairwise', sectorIdentifierUri: '', redirectUris: ['https://rp.example.com/cb'] }, s.userId, resolvePairwiseSalt(t.config, silentLogger()));
    expect(payload.sub).toBe(expected);
    expect(payload.sub).not.toBe(s.userId);
    expect(payload.sid).toBe(s.sid);
  });

  it('an admin revocation notifies every client of the session; ending it never waits for a hanging receiver', async () => {
    const hanging = await receiver(() => undefined);
    const ok = await receiver((_req, res) => res.writeHead(204).end());
    receivers.push(hanging, ok);
    const [hangingRp, okRp] = [await rpWith(hanging.url), await rpWith(ok.url)];
    const s = await sessionWith(hangingRp, okRp);
    const [atHanging, atOk] = [hanging.next(), ok.next()];
    await t.anon.user.revokeUserSession({ userId: s.userId, sid: s.sid }, { bearer: admin });
    // The revocation has answered although the hanging receiver has not (and will not) answer.
    expect((await t.peers.user.checkSession({ sessionId: s.sessionId, userId: s.userId })).active).toBe(false);
    await Promise.all([atHanging, atOk]);
    expect(new URLSearchParams(ok.bodies[0]).get('logout_token')).toBeTruthy();
  });
});

describe('delivery: timeout, bounded retries, audit, SSRF rules', () => {
  const setup = (allowLoopback = true) => {
    const audits: NewAuditEvent[] = [];
    const logout = createBackchannelLogout({
      issuer: t.config.issuer,
      peers: () => t.peers,
      audit: async (e) => void audits.push(e),
      log: silentLogger(),
      now: () => new Date(),
      allowLoopback,
      timeoutMs: 300,
      maxAttempts: 3,
      backoffMs: 10,
    });
    return { logout, audits };
  };

  it.each([
    ['a receiver answering 500', (_req: IncomingMessage, res: ServerResponse) => res.writeHead(500).end('x'.repeat(100_000)), 'HTTP 500'],
    ['a receiver that hangs', () => undefined, 'no answer'],
    ['a receiver that redirects (not followed)', (_req: IncomingMessage, res: ServerResponse) => res.writeHead(302, { location: 'http://127.0.0.1:1/' }).end(), 'HTTP 302'],
  ])('%s: exactly maxAttempts tries, then one audited failure', async (_n, answer, reason) => {
    const r = await receiver(answer);
    receivers.push(r);
    const rp = await rpWith(r.url);
    const { logout, audits } = setup();
    logout.notify([{ sid: 'a'.repeat(64), userId: 'usr_x', clientIds: [rp] }]);
    await logout.idle();
    expect(r.bodies).toHaveLength(3);
    expect(audits).toEqual([
      expect.objectContaining({ type: 'backchannel_logout.failed', clientId: rp, subject: 'usr_x', details: expect.objectContaining({ attempts: 3, reason: expect.stringContaining(reason) }) }),
    ]);
    // Never a token in the audit trail.
    expect(JSON.stringify(audits)).not.toContain('logout_token');
    logout.close();
  });

  it('a failed first attempt is retried and the later success is not audited', async () => {
    const r = await receiver((_req, res, n) => res.writeHead(n === 1 ? 503 : 200).end());
    receivers.push(r);
    const rp = await rpWith(r.url);
    const { logout, audits } = setup();
    logout.notify([{ sid: 'b'.repeat(64), userId: 'usr_y', clientIds: [rp] }]);
    await logout.idle();
    expect(r.bodies).toHaveLength(2);
    // Each attempt carries a fresh token (new jti).
    expect(r.bodies[0]).not.toBe(r.bodies[1]);
    expect(audits).toEqual([]);
    logout.close();
  });

  it('refuses a loopback receiver unless the development setting allows it, without calling it', async () => {
    const r = await receiver((_req, res) => res.writeHead(200).end());
    receivers.push(r);
    const rp = await rpWith(r.url);
    const { logout, audits } = setup(false);
    logout.notify([{ sid: 'c'.repeat(64), userId: 'usr_z', clientIds: [rp] }]);
    await logout.idle();
    expect(r.bodies).toHaveLength(0);
    expect(audits).toEqual([expect.objectContaining({ type: 'backchannel_logout.failed', clientId: rp })]);
    logout.close();
  });

  describe('IP-literal receivers, which never reach the DNS lookup check (review M1)', () => {
    // A real TCP listener on 127.0.0.1 that counts every connection it gets.
    let listener: TcpServer;
    let connections = 0;
    let port = 0;
    beforeAll(async () => {
      listener = createTcpServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as AddressInfo).port;
    });
    afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

    /** A client stored with the URI as it could be before registration checked IP literals. */
    async function legacyClientWith(backchannelLogoutUri: string): Promise<string> {
      const clientId = uniqueId('rp');
      await t.store.clients.create({
        clientId,
        name: 'legacy RP',
        clientType: 'confidential',
        redirectUris: ['https://rp.example.com/cb'],
        grantTypes: ['authorization_code'],
        scopes: ['openid'],
        tokenEndpointAuthMethod: 'client_secret_basic',
        skipConsent: false,
        audience: [],
        metadata: { backchannel_logout_uri: backchannelLogoutUri },
      });
      return clientId;
    }

    it.each([
      ['https://127.0.0.1:PORT/bc'],
      ['https://[::ffff:127.0.0.1]:PORT/v6'],
      ['https://169.254.169.254:PORT/latest/meta-data'],
    ])('refuses_ip_literal_backchannel_target %s without connecting, audited as refused', async (template) => {
      const rp = await legacyClientWith(template.replace('PORT', String(port)));
      const before = connections;
      // Default settings: the development loopback setting is off.
      const { logout, audits } = setup(false);
      logout.notify([{ sid: 'd'.repeat(64), userId: 'usr_ssrf', clientIds: [rp] }]);
      await logout.idle();
      expect(connections).toBe(before);
      expect(audits).toEqual([
        expect.objectContaining({ type: 'backchannel_logout.failed', clientId: rp, details: expect.objectContaining({ reason: 'forbidden target address', attempts: 0 }) }),
      ]);
      logout.close();
    });
  });

  it.each([
    ['::ffff:7f00:1', false, false],
    ['::ffff:a9fe:a9fe', true, false],
    ['64:ff9b::10.0.0.1', false, false],
    ['64:ff9b::5db8:d822', false, true],
    ['::7f00:1', true, false],
    ['93.184.216.34', false, true],
    ['2606:2800:220:1:248:1893:25c8:1946', false, true],
    ['127.0.0.1', false, false],
    ['127.0.0.1', true, true],
    ['::1', false, false],
    ['10.1.2.3', true, false],
    ['172.20.0.1', false, false],
    ['192.168.1.1', false, false],
    ['169.254.169.254', true, false],
    ['100.64.0.1', false, false],
    ['0.0.0.0', true, false],
    ['::ffff:10.0.0.1', false, false],
    ['::ffff:127.0.0.1', false, false],
    ['fd00::1', false, false],
    ['fe80::1', false, false],
    ['::', false, false],
    ['not-an-ip', true, false],
  ])('target %s (loopback allowed: %s) → %s', (address, allowLoopback, expected) => {
    expect(isAllowedTarget(address, allowLoopback)).toBe(expected);
  });
});
