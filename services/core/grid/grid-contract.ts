import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TemporarilyUnavailable } from '../errors/index.js';
import type { Grid, GridMap } from './grid.js';

/** What a test file hands the contract for each test: a fresh grid the suite owns and closes. */
export interface GridContractSubject {
  grid: Grid;
  /** Moves the grid's clock forward; without it the TTL tests wait in real time. */
  advance?: (ms: number) => Promise<void> | void;
  /** Runs after the suite has closed the grid (e.g. to stop a test cluster or drop its maps). */
  cleanup?: () => Promise<void>;
  /** TTL the expiry tests use. Default 1000: a remote grid may not honour less than a second. */
  ttlMs?: number;
  /** How long past its TTL an entry may stay visible in real time. Default 1100 (second granularity). */
  expirySlackMs?: number;
}

const DEFAULT_TTL_MS = 1_000;
const DEFAULT_EXPIRY_SLACK_MS = 1_100;
// Real-clock TTL tests wait a couple of seconds against a remote grid; keep them clear of a
// short default timeout without letting a hung grid stall the run.
const TTL_TEST_TIMEOUT_MS = 30_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The one behavioural suite for Grid implementations. Each test works in map names under a fresh
 * random prefix, so a shared remote cluster needs no clearing between tests or runs.
 */
export function describeGridContract(name: string, factory: () => Promise<GridContractSubject>): void {
  describe(`Grid contract: ${name}`, () => {
    let subject: GridContractSubject | undefined;
    let prefix = '';

    beforeEach(async () => {
      subject = await factory();
      prefix = `contract-${randomUUID()}`;
    });

    afterEach(async () => {
      const done = subject;
      subject = undefined;
      if (done === undefined) return;
      await done.grid.close();
      await done.cleanup?.();
    });

    const current = (): GridContractSubject => {
      if (subject === undefined) throw new Error('grid contract: factory did not produce a subject');
      return subject;
    };
    const map = <V>(mapName: string): GridMap<V> => current().grid.map<V>(`${prefix}:${mapName}`);
    const ttl = (): number => current().ttlMs ?? DEFAULT_TTL_MS;
    const fakeClock = (): boolean => current().advance !== undefined;

    /** Moves time forward: on the fake clock exactly, on the real clock by sleeping. */
    const elapse = async (ms: number): Promise<void> => {
      const { advance } = current();
      if (advance) await advance(ms);
      else await sleep(ms);
    };

    /** Moves time from a write with `ttl()` to a moment where that write must have expired. */
    const elapseUntilExpired = async (alreadyElapsedMs = 0): Promise<void> => {
      const slack = fakeClock() ? 0 : (current().expirySlackMs ?? DEFAULT_EXPIRY_SLACK_MS);
      await elapse(Math.max(0, ttl() - alreadyElapsedMs) + slack);
    };

    describe('ping (readiness)', () => {
      it('resolves while the grid is reachable, and writes nothing the maps can see', async () => {
        await expect(current().grid.ping()).resolves.toBeUndefined();
        await expect(map<string>('ping').get('ping')).resolves.toBeUndefined();
      });

      it('rejects with TemporarilyUnavailable once the grid is closed', async () => {
        await current().grid.close();
        await expect(current().grid.ping()).rejects.toBeInstanceOf(TemporarilyUnavailable);
      });
    });

    describe('get, set and delete', () => {
      it('resolves undefined for a key never written', async () => {
        expect(await map<string>('codes').get('missing')).toBeUndefined();
      });

      it('round-trips structured JSON values', async () => {
        const clients = map<unknown>('cache:clients');
        const value = {
          clientId: 'c-1',
          redirectUris: ['https://app.example/cb', 'http://127.0.0.1/cb'],
          nested: { depth: { deeper: [1, 2.5, -3, 0, 1e21] } },
          flags: { trusted: false, confidential: true },
          note: 'ünïcödé ✓ 漢字 🔑 "quotes" \\ back\nslash',
          empty: { list: [], object: {} },
          none: null,
        };
        await clients.set('c-1', value);
        expect(await clients.get('c-1')).toStrictEqual(value);
      });

      it('overwrites the previous value on set', async () => {
        const users = map<{ name: string }>('cache:users');
        await users.set('u', { name: 'first' });
        await users.set('u', { name: 'second' });
        expect(await users.get('u')).toStrictEqual({ name: 'second' });
      });

      it('stores falsy values and tells them apart from absence', async () => {
        const m = map<unknown>('falsy');
        const values: Array<[string, unknown]> = [['null', null], ['zero', 0], ['false', false], ['empty-string', ''], ['empty-array', []], ['empty-object', {}]];
        for (const [key, value] of values) await m.set(key, value);
        for (const [key, value] of values) expect(await m.get(key)).toStrictEqual(value);
        expect(await m.putIfAbsent('null', 'other')).toBe(false);
        expect(await m.take('null')).toBeNull();
        expect(await m.get('null')).toBeUndefined();
      });

      it('deletes a key, and deleting a missing key is harmless', async () => {
        const m = map<string>('cache:keys');
        await m.set('kid-1', 'jwk');
        await m.set('kid-2', 'other');
        await m.delete('kid-1');
        await expect(m.delete('kid-1')).resolves.toBeUndefined();
        await expect(m.delete('never-written')).resolves.toBeUndefined();
        expect(await m.get('kid-1')).toBeUndefined();
        expect(await m.get('kid-2')).toBe('other');
      });

      it('drops object properties whose value is undefined, as JSON does', async () => {
        const m = map<{ sub: string; nonce?: string }>('codes');
        await m.set('code', { sub: 'alice', nonce: undefined });
        const stored = await m.get('code');
        expect(stored).toStrictEqual({ sub: 'alice' });
        expect(stored !== undefined && 'nonce' in stored).toBe(false);
      });
    });

    describe('values are copies', () => {
      type Client = { scopes: string[]; meta: { version: number } };
      const pristine = (): Client => ({ scopes: ['read'], meta: { version: 1 } });

      it('is unaffected by mutating the object after set or putIfAbsent', async () => {
        const m = map<Client>('cache:clients');
        const viaSet = pristine();
        const viaPut = pristine();
        await m.set('a', viaSet);
        expect(await m.putIfAbsent('b', viaPut)).toBe(true);
        for (const v of [viaSet, viaPut]) {
          v.scopes.push('admin');
          v.meta.version = 99;
        }
        expect(await m.get('a')).toStrictEqual(pristine());
        expect(await m.get('b')).toStrictEqual(pristine());
      });

      it('is unaffected by mutating what get returned, and each get returns a new object', async () => {
        const m = map<Client>('cache:clients');
        await m.set('a', pristine());
        const first = await m.get('a');
        if (first === undefined) throw new Error('expected a value');
        first.scopes.push('admin');
        first.meta.version = 99;
        const second = await m.get('a');
        expect(second).toStrictEqual(pristine());
        expect(second).not.toBe(first);
        expect(second?.scopes).not.toBe(first.scopes);
      });
    });

    describe('putIfAbsent', () => {
      it('inserts into an absent key and reports it', async () => {
        const m = map<string>('client-assertion-jti');
        expect(await m.putIfAbsent('jti-1', 'seen')).toBe(true);
        expect(await m.get('jti-1')).toBe('seen');
      });

      it('refuses a present key and keeps the existing value', async () => {
        const m = map<string>('client-assertion-jti');
        await m.set('jti-1', 'original');
        expect(await m.putIfAbsent('jti-1', 'replacement')).toBe(false);
        expect(await m.get('jti-1')).toBe('original');
      });

      it('inserts again once the key was deleted or taken', async () => {
        const m = map<string>('codes');
        expect(await m.putIfAbsent('k', 'one')).toBe(true);
        await m.delete('k');
        expect(await m.putIfAbsent('k', 'two')).toBe(true);
        expect(await m.take('k')).toBe('two');
        expect(await m.putIfAbsent('k', 'three')).toBe(true);
        expect(await m.get('k')).toBe('three');
      });

      it('lets exactly one of 20 concurrent callers insert, and keeps the winner’s value', async () => {
        const m = map<{ by: number }>('client-assertion-jti');
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => m.putIfAbsent('jti-race', { by: i })));
        const winners = results.flatMap((inserted, i) => (inserted ? [i] : []));
        expect(winners).toHaveLength(1);
        expect(await m.get('jti-race')).toStrictEqual({ by: winners[0] });
      });
    });

    describe('take', () => {
      it('returns the value and removes it', async () => {
        const codes = map<{ clientId: string }>('codes');
        await codes.set('code-1', { clientId: 'c-1' });
        expect(await codes.take('code-1')).toStrictEqual({ clientId: 'c-1' });
        expect(await codes.take('code-1')).toBeUndefined();
        expect(await codes.get('code-1')).toBeUndefined();
      });

      it('resolves undefined for a missing key', async () => {
        expect(await map<string>('codes').take('never-issued')).toBeUndefined();
      });

      for (const racers of [2, 50]) {
        it(`gives the value to exactly one of ${racers} concurrent takers`, async () => {
          const codes = map<{ code: string }>('codes');
          await codes.set('code-race', { code: 'payload' });
          const results = await Promise.all(Array.from({ length: racers }, () => codes.take('code-race')));
          const won = results.filter((r) => r !== undefined);
          expect(won).toStrictEqual([{ code: 'payload' }]);
          expect(results.filter((r) => r === undefined)).toHaveLength(racers - 1);
          expect(await codes.get('code-race')).toBeUndefined();
        });
      }
    });

    describe('replace', () => {
      it('replaces a value equal to the expected one, and refuses any other or an absent key', async () => {
        const buckets = map<Record<string, number>>('revocations');
        await buckets.set('b-1', { 'at:j1': 100 });
        expect(await buckets.replace('b-1', { 'at:j1': 100 }, { 'at:j1': 100, 'at:j2': 200 })).toBe(true);
        expect(await buckets.get('b-1')).toStrictEqual({ 'at:j1': 100, 'at:j2': 200 });
        // A stale expected value (what another writer already replaced) loses and changes nothing.
        expect(await buckets.replace('b-1', { 'at:j1': 100 }, { 'at:j3': 300 })).toBe(false);
        expect(await buckets.get('b-1')).toStrictEqual({ 'at:j1': 100, 'at:j2': 200 });
        expect(await buckets.replace('never-written', {}, { 'at:j4': 400 })).toBe(false);
        expect(await buckets.get('never-written')).toBeUndefined();
      });

      it('compares what get returned with what is stored, for values of every JSON shape', async () => {
        const m = map<unknown>('cas');
        const values: unknown[] = [{ note: 'ünïcödé 🔑 "q" \\ \n', n: [1, 2.5, -3, 1e21], deep: { a: null, b: false } }, '', 0, null, []];
        for (const [i, value] of values.entries()) {
          await m.set(`k${i}`, value);
          const read = await m.get(`k${i}`);
          expect(await m.replace(`k${i}`, read, { replaced: i })).toBe(true);
          expect(await m.get(`k${i}`)).toStrictEqual({ replaced: i });
        }
      });

      it('lets exactly one of 20 concurrent replacers of the same value win; a read-replace loop loses no update', async () => {
        const m = map<{ items: string[] }>('revocations');
        await m.set('race', { items: [] });
        const seen = (await m.get('race'))!;
        const wins = await Promise.all(Array.from({ length: 20 }, (_, i) => m.replace('race', seen, { items: [`w${i}`] })));
        expect(wins.filter(Boolean)).toHaveLength(1);
        await m.set('loop', { items: [] });
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            for (let attempt = 0; attempt < 200; attempt++) {
              const cur = (await m.get('loop'))!;
              if (await m.replace('loop', cur, { items: [...cur.items, `i${i}`] })) return;
            }
            throw new Error('replace loop did not converge');
          }),
        );
        expect([...(await m.get('loop'))!.items].sort()).toStrictEqual(Array.from({ length: 10 }, (_, i) => `i${i}`).sort());
      });

      it(
        'leaves the replaced entry without a TTL',
        async () => {
          const m = map<string>('revocations');
          await m.set('was-expiring', 'v1', ttl());
          expect(await m.replace('was-expiring', 'v1', 'v2')).toBe(true);
          await elapseUntilExpired();
          expect(await m.get('was-expiring')).toBe('v2');
        },
        TTL_TEST_TIMEOUT_MS,
      );

      it('rejects bad keys and values with TypeError and changes nothing', async () => {
        const m = map<unknown>('revocations');
        await m.set('k', 'before');
        await expect(m.replace('', 'before', 'after')).rejects.toThrow(TypeError);
        await expect(m.replace('k', 'before', new Date(0))).rejects.toThrow(TypeError);
        await expect(m.replace('k', Number.NaN, 'after')).rejects.toThrow(TypeError);
        expect(await m.get('k')).toBe('before');
      });
    });

    describe('TTL', () => {
      it(
        'serves an entry until its TTL elapses, then get, take and putIfAbsent all see it gone',
        async () => {
          const m = map<string>('codes');
          const t = ttl();
          await m.set('via-get', 'a', t);
          await m.set('via-take', 'b', t);
          expect(await m.putIfAbsent('via-put', 'c', t)).toBe(true);
          await m.set('permanent', 'p');
          expect(await m.get('via-get')).toBe('a');
          if (fakeClock()) {
            await elapse(t - 1);
            expect(await m.get('via-get')).toBe('a');
            expect(await m.putIfAbsent('via-put', 'early')).toBe(false);
            await elapseUntilExpired(t - 1);
          } else {
            await elapseUntilExpired();
          }
          expect(await m.get('via-get')).toBeUndefined();
          expect(await m.take('via-take')).toBeUndefined();
          expect(await m.putIfAbsent('via-put', 'fresh')).toBe(true);
          expect(await m.get('via-put')).toBe('fresh');
          expect(await m.get('permanent')).toBe('p');
        },
        TTL_TEST_TIMEOUT_MS,
      );

      it(
        'is replaced by each set: without a TTL the entry becomes permanent, with one it starts expiring',
        async () => {
          const m = map<string>('revoked-jti');
          await m.set('made-permanent', 'v1', ttl());
          await m.set('made-permanent', 'v2');
          await m.set('made-expiring', 'v1');
          await m.set('made-expiring', 'v2', ttl());
          await elapseUntilExpired();
          expect(await m.get('made-permanent')).toBe('v2');
          expect(await m.get('made-expiring')).toBeUndefined();
        },
        TTL_TEST_TIMEOUT_MS,
      );

      it(
        'is left alone by a putIfAbsent that loses',
        async () => {
          const m = map<string>('client-assertion-jti');
          expect(await m.putIfAbsent('expiring', 'first', ttl())).toBe(true);
          expect(await m.putIfAbsent('expiring', 'second')).toBe(false);
          await m.set('permanent', 'first');
          expect(await m.putIfAbsent('permanent', 'second', ttl())).toBe(false);
          await elapseUntilExpired();
          expect(await m.get('expiring')).toBeUndefined();
          expect(await m.get('permanent')).toBe('first');
        },
        TTL_TEST_TIMEOUT_MS,
      );
    });

    describe('increment', () => {
      it('counts from 1 per key, readable with get and reset by delete', async () => {
        const rate = map<number>('rate');
        const t = ttl() * 60;
        expect(await rate.increment('ip:203.0.113.7', t)).toBe(1);
        expect(await rate.increment('ip:203.0.113.7', t)).toBe(2);
        expect(await rate.increment('ip:203.0.113.7', t)).toBe(3);
        expect(await rate.increment('ip:198.51.100.1', t)).toBe(1);
        expect(await rate.get('ip:203.0.113.7')).toBe(3);
        await rate.delete('ip:203.0.113.7');
        expect(await rate.increment('ip:203.0.113.7', t)).toBe(1);
      });

      it('loses no update under 20 concurrent increments', async () => {
        const rate = map<number>('rate');
        const counts = await Promise.all(Array.from({ length: 20 }, () => rate.increment('login:alice', ttl() * 60)));
        expect([...counts].sort((a, b) => a - b)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i + 1));
        expect(await rate.get('login:alice')).toBe(20);
      });

      it(
        'restarts at 1 once the window its first increment opened has passed',
        async () => {
          const lockout = map<number>('lockout');
          const t = ttl();
          expect(await lockout.increment('user:alice', t)).toBe(1);
          if (fakeClock()) {
            // A later increment must not stretch the window, or steady guessing never unlocks
            // and a patient attacker is never counted afresh.
            await elapse(Math.floor(t / 2));
            expect(await lockout.increment('user:alice', t)).toBe(2);
            await elapseUntilExpired(Math.floor(t / 2));
          } else {
            expect(await lockout.increment('user:alice', t)).toBe(2);
            await elapseUntilExpired();
          }
          expect(await lockout.get('user:alice')).toBeUndefined();
          expect(await lockout.increment('user:alice', t)).toBe(1);
        },
        TTL_TEST_TIMEOUT_MS,
      );

      it('rejects with TypeError when the key holds a non-integer value, leaving it as it was', async () => {
        const m = map<unknown>('rate');
        await m.set('text', 'not a counter');
        await m.set('fraction', 1.5);
        await expect(m.increment('text', ttl())).rejects.toThrow(TypeError);
        await expect(m.increment('fraction', ttl())).rejects.toThrow(TypeError);
        expect(await m.get('text')).toBe('not a counter');
        expect(await m.get('fraction')).toBe(1.5);
      });
    });

    describe('map names', () => {
      it('isolates maps by name, including names that prefix one another', async () => {
        const codes = map<string>('codes');
        const revoked = map<string>('revoked-jti');
        const cache = map<string>('cache');
        const cacheClients = map<string>('cache:clients');
        await codes.set('k', 'code');
        await revoked.set('k', 'jti');
        await cacheClients.set('k', 'client');
        expect(await cache.get('k')).toBeUndefined();
        expect(await map<number>('rate').increment('k', ttl() * 60)).toBe(1);
        await codes.delete('k');
        expect(await revoked.take('k')).toBe('jti');
        expect(await cacheClients.get('k')).toBe('client');
        expect(await codes.get('k')).toBeUndefined();
      });

      it('lets two handles of one name share their entries', async () => {
        const a = map<string>('cache:services');
        const b = map<string>('cache:services');
        await a.set('svc', 'from-a');
        expect(await b.take('svc')).toBe('from-a');
        expect(await a.get('svc')).toBeUndefined();
      });

      it('throws TypeError for an empty or malformed map name', () => {
        const { grid } = current();
        expect(() => grid.map('')).toThrow(TypeError);
        expect(() => grid.map('bad\ud800name')).toThrow(TypeError);
        expect(() => grid.map(undefined as unknown as string)).toThrow(TypeError);
      });
    });

    describe('keys', () => {
      it('keeps keys with separators, unicode and great length distinct and intact', async () => {
        const m = map<number>('cache:clients');
        const keys = [
          'a:b:c',
          'a:b',
          'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          'with space',
          'slash/and\\backslash',
          'new\nline\ttab\0nul',
          'percent%3A',
          '{"looks":"like json"}',
          '__proto__',
          'constructor',
          'ünïcödé',
          '漢字キー',
          '🔑🎫',
          'e\u0301', // NFD é: must not be folded into the NFC key below
          '\u00e9',
          'x'.repeat(10_000),
          'x'.repeat(10_001),
        ];
        await Promise.all(keys.map((key, i) => m.set(key, i)));
        expect(await Promise.all(keys.map((key) => m.get(key)))).toStrictEqual(keys.map((_, i) => i));
        expect(await m.get('a')).toBeUndefined();
        expect(await m.take('🔑🎫')).toBe(12);
        expect(await m.putIfAbsent('x'.repeat(10_000), -1)).toBe(false);
        await m.delete('e\u0301');
        expect(await m.get('\u00e9')).toBe(14);
      });

      it('rejects with TypeError on every method for an empty, non-string or malformed key', async () => {
        const m = map<number>('codes');
        const bad: unknown[] = ['', undefined, null, 42, { key: 'k' }, 'lone\ud800surrogate'];
        for (const key of bad) {
          const k = key as string;
          await expect(m.get(k)).rejects.toThrow(TypeError);
          await expect(m.set(k, 1)).rejects.toThrow(TypeError);
          await expect(m.putIfAbsent(k, 1)).rejects.toThrow(TypeError);
          await expect(m.take(k)).rejects.toThrow(TypeError);
          await expect(m.delete(k)).rejects.toThrow(TypeError);
          await expect(m.increment(k, ttl())).rejects.toThrow(TypeError);
          await expect(m.replace(k, 1, 2)).rejects.toThrow(TypeError);
        }
        // A lone surrogate must not have been stored under some lossy encoding of the key either.
        expect(await m.get('lone\ufffdsurrogate')).toBeUndefined();
      });
    });

    describe('invalid input changes nothing', () => {
      it('rejects TTLs that are not positive integers with RangeError, and non-numbers with TypeError', async () => {
        const m = map<string>('codes');
        const counters = map<number>('rate');
        for (const ttlMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
          await expect(m.set('k', 'v', ttlMs)).rejects.toThrow(RangeError);
          await expect(m.putIfAbsent('k', 'v', ttlMs)).rejects.toThrow(RangeError);
          await expect(counters.increment('k', ttlMs)).rejects.toThrow(RangeError);
        }
        for (const ttlMs of ['1000', null] as unknown as number[]) {
          await expect(m.set('k', 'v', ttlMs)).rejects.toThrow(TypeError);
          await expect(m.putIfAbsent('k', 'v', ttlMs)).rejects.toThrow(TypeError);
          await expect(counters.increment('k', ttlMs)).rejects.toThrow(TypeError);
        }
        // A counter without a window would lock a user out for good.
        await expect(counters.increment('k', undefined as unknown as number)).rejects.toThrow(TypeError);
        expect(await m.get('k')).toBeUndefined();
        expect(await counters.get('k')).toBeUndefined();
      });

      it('rejects values that would not survive JSON with TypeError', async () => {
        const m = map<unknown>('cache:users');
        await m.set('existing', 'before');
        const cyclic: Record<string, unknown> = { name: 'loop' };
        cyclic.self = cyclic;
        const bad: Array<[string, unknown]> = [
          ['undefined', undefined],
          ['NaN', Number.NaN],
          ['Infinity', Number.NEGATIVE_INFINITY],
          ['bigint', 10n],
          ['function', () => 1],
          ['symbol', Symbol('s')],
          ['Date', new Date(0)],
          ['Map', new Map([['a', 1]])],
          ['Set', new Set([1])],
          ['Uint8Array', new Uint8Array([1, 2])],
          ['class instance', new (class Account { id = 'a' })()],
          ['nested Date', { profile: { createdAt: new Date(0) } }],
          ['undefined in array', ['a', undefined]],
          ['sparse array', [1, , 3]], // eslint-disable-line no-sparse-arrays
          ['function property', { toJSON: () => 'sneaky' }],
          ['cycle', cyclic],
        ];
        for (const [label, value] of bad) {
          await expect(m.set('existing', value), label).rejects.toThrow(TypeError);
          await expect(m.putIfAbsent('absent', value), label).rejects.toThrow(TypeError);
        }
        expect(await m.get('existing')).toBe('before');
        expect(await m.get('absent')).toBeUndefined();
      });
    });

    describe('close', () => {
      it('is idempotent, and afterwards every operation rejects with TemporarilyUnavailable', async () => {
        const { grid } = current();
        const m = map<string>('codes');
        await m.set('k', 'v');
        await grid.close();
        await expect(grid.close()).resolves.toBeUndefined();
        const ops: Array<[string, () => Promise<unknown>]> = [
          ['get', () => m.get('k')],
          ['set', () => m.set('k', 'w')],
          ['putIfAbsent', () => m.putIfAbsent('other', 'w')],
          ['take', () => m.take('k')],
          ['delete', () => m.delete('k')],
          ['increment', () => m.increment('n', ttl())],
          ['replace', () => m.replace('k', 'v', 'w')],
        ];
        for (const [label, op] of ops) await expect(op(), label).rejects.toBeInstanceOf(TemporarilyUnavailable);
      });
    });
  });
}
