// The login-session index on the in-process grid with a controlled clock: bounded per user (the
// oldest is evicted), never outliving the sessions, clients recorded once and bounded.
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryGrid } from '../core/grid/index.js';
import { createLoginSessions, LOGIN_SESSION_MAX_SECONDS, MAX_CLIENTS_PER_SESSION, MAX_SESSIONS_PER_USER, publicSessionId } from './login-sessions.js';

const grids: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(grids.splice(0).map((g) => g.close()));
});

function setup() {
  let t = 1_000_000;
  const clock = { advance: (ms: number) => (t += ms), now: () => t };
  const grid = createMemoryGrid({ now: clock.now });
  grids.push(grid);
  return { grid, clock, sessions: createLoginSessions(grid, () => new Date(clock.now())) };
}

describe('login sessions per user', () => {
  it('index bounded: a login beyond the cap ends the oldest session, which is returned as evicted', async () => {
    const { sessions, clock } = setup();
    const ids: string[] = [];
    for (let i = 0; i < MAX_SESSIONS_PER_USER; i++) {
      const started = await sessions.start('usr_a', new Date(clock.now()));
      expect(started.evicted).toEqual([]);
      ids.push(started.sessionId);
      clock.advance(1000);
    }
    await sessions.recordClient(ids[0]!, 'cli_first');
    const extra = await sessions.start('usr_a', new Date(clock.now()));
    expect(extra.evicted).toEqual([{ sid: publicSessionId(ids[0]!), userId: 'usr_a', clientIds: ['cli_first'] }]);
    expect(await sessions.get(ids[0]!)).toBeUndefined();
    const listed = await sessions.listByUser('usr_a');
    expect(listed).toHaveLength(MAX_SESSIONS_PER_USER);
    expect(listed.map((s) => s.sid)).toEqual([...ids.slice(1), extra.sessionId].map(publicSessionId));
    // Another user's sessions are neither listed nor evicted.
    await sessions.start('usr_b', new Date(clock.now()));
    expect(await sessions.listByUser('usr_a')).toHaveLength(MAX_SESSIONS_PER_USER);
    expect(await sessions.listByUser('usr_b')).toHaveLength(1);
  });

  it('the index never outlives the sessions: after the maximum lifetime nothing is listed or held', async () => {
    const { sessions, clock, grid } = setup();
    const { sessionId } = await sessions.start('usr_ttl', new Date(clock.now()));
    await sessions.recordClient(sessionId, 'cli_x');
    expect(await sessions.listByUser('usr_ttl')).toHaveLength(1);
    clock.advance(LOGIN_SESSION_MAX_SECONDS * 1000);
    expect(await sessions.get(sessionId)).toBeUndefined();
    expect(await sessions.listByUser('usr_ttl')).toEqual([]);
    expect(grid.entryCount()).toBeGreaterThan(0);
    grid.sweep();
    // Session, index slot, client slot and client marker all expired together.
    expect(grid.entryCount()).toBe(0);
  });

  it('ending a session frees its slot and its client records; ending twice ends once', async () => {
    const { sessions, clock } = setup();
    const { sessionId } = await sessions.start('usr_end', new Date(clock.now()));
    expect(await sessions.recordClient(sessionId, 'cli_1')).toBe(true);
    expect(await sessions.recordClient(sessionId, 'cli_1')).toBe(true);
    expect(await sessions.recordClient(sessionId, 'cli_2')).toBe(true);
    expect((await sessions.listByUser('usr_end'))[0]!.clientIds).toEqual(['cli_1', 'cli_2']);
    const [a, b] = await Promise.all([sessions.end(sessionId), sessions.endBySid(publicSessionId(sessionId))]);
    expect([a, b].filter((e) => e !== undefined)).toEqual([{ sid: publicSessionId(sessionId), userId: 'usr_end', clientIds: ['cli_1', 'cli_2'] }]);
    expect(await sessions.listByUser('usr_end')).toEqual([]);
    expect(await sessions.recordClient(sessionId, 'cli_3')).toBe(false);
  });

  it('clients recorded per session are bounded', async () => {
    const { sessions, clock } = setup();
    const { sessionId } = await sessions.start('usr_cli', new Date(clock.now()));
    for (let i = 0; i < MAX_CLIENTS_PER_SESSION; i++) expect(await sessions.recordClient(sessionId, `cli_${i}`)).toBe(true);
    expect(await sessions.recordClient(sessionId, 'cli_over')).toBe(false);
    expect((await sessions.getBySid(publicSessionId(sessionId)))!.clientIds).toHaveLength(MAX_CLIENTS_PER_SESSION);
  });

  it('malformed ids name no session', async () => {
    const { sessions } = setup();
    expect(await sessions.endBySid('not-a-sid')).toBeUndefined();
    expect(await sessions.getBySid('A'.repeat(64))).toBeUndefined();
    expect(await sessions.end('')).toBeUndefined();
    expect(await sessions.recordClient('x'.repeat(600), 'cli')).toBe(false);
  });
});
