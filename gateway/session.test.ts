// Session expiry, checked through a bare fastify app with the cookie plugin and a movable clock.
import cookie from '@fastify/cookie';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessions, MAX_BROWSER_ACCOUNTS, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE, SESSION_IDLE_SECONDS } from './session.js';

const start = new Date('2030-01-01T00:00:00Z').getTime();
let now = start;
const sessions = createSessions('https://as.example.com', () => new Date(now));
const app = Fastify();

beforeAll(async () => {
  await app.register(cookie, { secret: 'test-secret' });
  app.get('/oauth2/start', async (req, reply) => {
    sessions.start(req, reply, 'user-1', new Date(now), 'sid-1');
    return '';
  });
  app.get('/oauth2/login-as', async (req, reply) => {
    const { user, sid } = req.query as { user: string; sid: string };
    const forgotten = sessions.start(req, reply, user, new Date(now), sid);
    return { forgotten: forgotten.map((f) => f.sessionId) };
  });
  app.get('/oauth2/accounts', async (req) => ({ current: sessions.read(req)?.userId ?? null, accounts: sessions.accounts(req).map((a) => a.userId) }));
  app.get('/oauth2/remove', async (req, reply) => {
    const s = sessions.read(req);
    if (s) sessions.remove(req, reply, s.sessionId);
    return '';
  });
  app.get('/oauth2/read', async (req, reply) => {
    const s = sessions.read(req);
    if (s) sessions.touch(req, reply, s);
    return { userId: s?.userId ?? null };
  });
  await app.ready();
});
afterAll(() => app.close());

const cookieOf = (setCookie: string | string[] | undefined) => {
  const raw = ([] as string[]).concat(setCookie ?? []).find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? '';
  return { raw, pair: raw.split(';')[0] ?? '' };
};

async function read(pair: string) {
  const res = await app.inject({ url: '/oauth2/read', headers: { cookie: pair } });
  return { userId: (res.json() as { userId: string | null }).userId, next: cookieOf(res.headers['set-cookie']).pair || pair };
}

describe('session cookie', () => {
  it('is Secure with an https issuer, HttpOnly, SameSite=Lax, Path=/oauth2', async () => {
    now = start;
    const res = await app.inject({ url: '/oauth2/start' });
    const { raw } = cookieOf(res.headers['set-cookie']);
    expect(raw.split('; ')).toEqual(expect.arrayContaining([`Max-Age=${SESSION_IDLE_SECONDS}`, 'Path=/oauth2', 'HttpOnly', 'Secure', 'SameSite=Lax']));
  });

  it('slides the idle timeout with use but ends at the absolute limit', async () => {
    now = start;
    let pair = cookieOf((await app.inject({ url: '/oauth2/start' })).headers['set-cookie']).pair;
    // Used every 7 hours: still valid until 24 h after the login.
    for (let h = 7; h < 24; h += 7) {
      now = start + h * 3600_000;
      const r = await read(pair);
      expect(r.userId).toBe('user-1');
      pair = r.next;
    }
    now = start + SESSION_ABSOLUTE_SECONDS * 1000 + 1000;
    expect((await read(pair)).userId).toBeNull();
  });

  it('ends after the idle timeout without use', async () => {
    now = start;
    const pair = cookieOf((await app.inject({ url: '/oauth2/start' })).headers['set-cookie']).pair;
    now = start + SESSION_IDLE_SECONDS * 1000 + 1000;
    expect((await read(pair)).userId).toBeNull();
  });

  it('refuses a value signed with another secret or unsigned', async () => {
    now = start;
    const forged = `s2.${Buffer.from(JSON.stringify({ u: 'admin', at: start / 1000, ls: start / 1000, sid: 'sid-1' })).toString('base64url')}`;
    expect((await read(`${SESSION_COOKIE}=${forged}`)).userId).toBeNull();
    expect((await read(`${SESSION_COOKIE}=${forged}.AAAA`)).userId).toBeNull();
  });
});

describe('several accounts in one browser (account chooser)', () => {
  /** Follows the cookie through a sequence of requests, as a browser would. */
  async function step(pair: string, url: string) {
    const res = await app.inject({ url, headers: pair ? { cookie: pair } : {} });
    const set = cookieOf(res.headers['set-cookie']);
    const cleared = /Max-Age=0|Expires=Thu, 01 Jan 1970/i.test(set.raw);
    return { body: (res.body === '' ? {} : res.json()) as Record<string, unknown>, pair: cleared ? '' : set.pair || pair };
  }

  it('keeps at most MAX_BROWSER_ACCOUNTS, the latest login current, and names the sessions it forgets', async () => {
    now = start;
    let pair = '';
    for (let i = 1; i <= MAX_BROWSER_ACCOUNTS; i++) pair = (await step(pair, `/oauth2/login-as?user=u${i}&sid=s${i}`)).pair;
    let r = await step(pair, '/oauth2/accounts');
    expect(r.body).toEqual({ current: `u${MAX_BROWSER_ACCOUNTS}`, accounts: ['u5', 'u4', 'u3', 'u2', 'u1'] });
    const sixth = await step(pair, '/oauth2/login-as?user=u6&sid=s6');
    expect(sixth.body).toEqual({ forgotten: ['s1'] });
    r = await step(sixth.pair, '/oauth2/accounts');
    expect(r.body).toEqual({ current: 'u6', accounts: ['u6', 'u5', 'u4', 'u3', 'u2'] });
    // The same user again replaces their earlier session.
    const again = await step(sixth.pair, '/oauth2/login-as?user=u3&sid=s3b');
    expect(again.body).toEqual({ forgotten: ['s3'] });
    expect((await step(again.pair, '/oauth2/accounts')).body).toEqual({ current: 'u3', accounts: ['u3', 'u6', 'u5', 'u4', 'u2'] });
  });

  it('signing one account out keeps the others but makes none current', async () => {
    now = start;
    let pair = (await step('', '/oauth2/login-as?user=a&sid=sa')).pair;
    pair = (await step(pair, '/oauth2/login-as?user=b&sid=sb')).pair;
    pair = (await step(pair, '/oauth2/remove')).pair;
    expect((await step(pair, '/oauth2/accounts')).body).toEqual({ current: null, accounts: ['a'] });
    // Reading does not make it current again.
    expect((await read(pair)).userId).toBeNull();
  });

  it('still reads a one-account cookie of the previous format (an upgrade signs no one out)', async () => {
    now = start;
    const v2 = `s2.${Buffer.from(JSON.stringify({ u: 'old-user', at: start / 1000, ls: start / 1000, sid: 'sid-old' })).toString('base64url')}`;
    const signed = app.signCookie(v2);
    expect((await read(`${SESSION_COOKIE}=${encodeURIComponent(signed)}`)).userId).toBe('old-user');
  });
});
