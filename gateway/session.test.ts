// Session expiry, checked through a bare fastify app with the cookie plugin and a movable clock.
import cookie from '@fastify/cookie';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessions, SESSION_ABSOLUTE_SECONDS, SESSION_COOKIE, SESSION_IDLE_SECONDS } from './session.js';

const start = new Date('2030-01-01T00:00:00Z').getTime();
let now = start;
const sessions = createSessions('https://as.example.com', () => new Date(now));
const app = Fastify();

beforeAll(async () => {
  await app.register(cookie, { secret: 'test-secret' });
  app.get('/oauth2/start', async (_req, reply) => {
    sessions.start(reply, 'user-1', new Date(now), 'sid-1');
    return '';
  });
  app.get('/oauth2/read', async (req, reply) => {
    const s = sessions.read(req);
    if (s) sessions.touch(reply, s);
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
