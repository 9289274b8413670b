import { describe, expect, it } from 'vitest';
import { silentLogger } from './core/log/index.js';
import type { NewAuditEvent } from './core/store/index.js';
import { AUDIT_SUCCESS_SAMPLE_RATE, createAuditQueue, SUCCESS_AUDIT_EVENTS } from './audit-queue.js';

describe('audit queue', () => {
  it('writes every event in order, stamped with the time it was pushed', async () => {
    const written: NewAuditEvent[] = [];
    const q = createAuditQueue({ append: async (e) => void written.push(e) as never }, silentLogger());
    const before = Date.now();
    for (let i = 0; i < 50; i++) q.push({ type: 'token.issued', details: { i } });
    await q.flush();
    expect(written.map((e) => e.details?.i)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(written.every((e) => e.at instanceof Date && e.at.getTime() >= before)).toBe(true);
  });

  it('retries while the store fails and loses nothing', async () => {
    let failures = 3;
    const written: string[] = [];
    const q = createAuditQueue(
      {
        append: async (e) => {
          if (failures-- > 0) throw new Error('store down');
          written.push(e.type);
          return e as never;
        },
      },
      silentLogger(),
      { retryMs: 5 },
    );
    q.push({ type: 'a' });
    q.push({ type: 'b' });
    await q.flush();
    expect(written).toEqual(['a', 'b']);
  });

  it('is bounded: the oldest events are dropped when the store cannot keep up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const written: string[] = [];
    const q = createAuditQueue(
      {
        append: async (e) => {
          await gate;
          written.push(e.type);
          return e as never;
        },
      },
      silentLogger(),
      { max: 3 },
    );
    for (const t of ['1', '2', '3', '4', '5']) q.push({ type: t });
    release();
    await q.flush();
    // '1' was already being written; the queue held 2, 3, 4 and '2' made room for '5'.
    expect(written).toEqual(['1', '3', '4', '5']);
  });

  it('push returns at once even while the store hangs', () => {
    const q = createAuditQueue({ append: () => new Promise(() => undefined) }, silentLogger());
    for (let i = 0; i < 1000; i++) expect(q.push({ type: 'x' })).toBeUndefined();
  });

  describe('success events (AUTHMESH_AUDIT_SUCCESS)', () => {
    const SECURITY = ['client.auth_failed', 'code.replay_revoked', 'refresh.reuse_revoked', 'token.revoked', 'client.secret_rotated', 'login.success', 'token.exchanged'];
    const run = async (success: 'all' | 'sampled' | 'off', events: NewAuditEvent[]) => {
      const written: NewAuditEvent[] = [];
      const q = createAuditQueue({ append: async (e) => void written.push(e) as never }, silentLogger(), { success });
      for (const e of events) q.push(e);
      await q.flush();
      return written;
    };

    it('off writes no success event and every security event', async () => {
      const events = [...SUCCESS_AUDIT_EVENTS, ...SECURITY].map((type) => ({ type }));
      expect((await run('off', events)).map((e) => e.type)).toEqual(SECURITY);
    });

    it('sampled writes one success event in AUDIT_SUCCESS_SAMPLE_RATE, marked, and every security event', async () => {
      const events: NewAuditEvent[] = [];
      for (let i = 0; i < 2 * AUDIT_SUCCESS_SAMPLE_RATE; i++) events.push({ type: 'token.issued', details: { i } }, { type: 'client.auth_failed', details: { i } });
      const written = await run('sampled', events);
      const issued = written.filter((e) => e.type === 'token.issued');
      expect(issued.map((e) => e.details)).toEqual([
        { i: 0, sampled_one_in: AUDIT_SUCCESS_SAMPLE_RATE },
        { i: AUDIT_SUCCESS_SAMPLE_RATE, sampled_one_in: AUDIT_SUCCESS_SAMPLE_RATE },
      ]);
      expect(written.filter((e) => e.type === 'client.auth_failed')).toHaveLength(2 * AUDIT_SUCCESS_SAMPLE_RATE);
    });

    it('all writes every event unchanged', async () => {
      const events = [...SUCCESS_AUDIT_EVENTS, ...SECURITY].map((type) => ({ type, details: { k: type } }));
      expect((await run('all', events)).map((e) => ({ type: e.type, details: e.details }))).toEqual(events);
    });
  });
});
