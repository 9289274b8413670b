import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeGridContract } from './grid-contract.js';
import { createMemoryGrid } from './memory-grid.js';

function fakeClock() {
  let t = Date.UTC(2030, 0, 1);
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describeGridContract('memory grid, injected clock', async () => {
  const clock = fakeClock();
  return { grid: createMemoryGrid({ now: clock.now }), advance: clock.advance };
});

// Exercises the real-time branch of the contract, the one a Hazelcast run takes, with TTLs short
// enough to keep this file fast.
describeGridContract('memory grid, real clock', async () => ({ grid: createMemoryGrid(), ttlMs: 100, expirySlackMs: 50 }));

describe('memory grid', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('sweep drops expired entries across maps that nobody reads again', async () => {
    const clock = fakeClock();
    const grid = createMemoryGrid({ now: clock.now });
    try {
      const codes = grid.map<string>('codes');
      const revoked = grid.map<boolean>('revoked-jti');
      await codes.set('c1', 'a', 1_000);
      await codes.set('c2', 'b', 5_000);
      await revoked.set('j1', true, 1_000);
      await revoked.set('j2', true);
      expect(grid.entryCount()).toBe(4);
      expect(grid.sweep()).toBe(0);
      clock.advance(1_000);
      expect(grid.sweep()).toBe(2);
      expect(grid.entryCount()).toBe(2);
      expect(await codes.get('c2')).toBe('b');
      expect(await revoked.get('j2')).toBe(true);
    } finally {
      await grid.close();
    }
  });

  it('frees an expired entry when a read finds it', async () => {
    const clock = fakeClock();
    const grid = createMemoryGrid({ now: clock.now });
    try {
      const codes = grid.map<string>('codes');
      await codes.set('c1', 'a', 10);
      clock.advance(10);
      expect(grid.entryCount()).toBe(1);
      expect(await codes.get('c1')).toBeUndefined();
      expect(grid.entryCount()).toBe(0);
    } finally {
      await grid.close();
    }
  });

  it('sweeps on its interval without any reads, and stops its timer on close', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const clock = fakeClock();
    const grid = createMemoryGrid({ now: clock.now, sweepIntervalMs: 1_000 });
    const codes = grid.map<string>('codes');
    await codes.set('c1', 'a', 500);
    await codes.set('c2', 'b');
    clock.advance(500);
    vi.advanceTimersByTime(999);
    expect(grid.entryCount()).toBe(2);
    vi.advanceTimersByTime(1);
    expect(grid.entryCount()).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    await grid.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(grid.entryCount()).toBe(0);
  });

  it('does not let its sweep timer keep the process alive', async () => {
    const spy = vi.spyOn(globalThis, 'setInterval');
    const grid = createMemoryGrid();
    try {
      expect(spy).toHaveBeenCalledTimes(1);
      const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
    } finally {
      await grid.close();
    }
  });

  it('keeps the fixed window of a counter across increments near its end', async () => {
    const clock = fakeClock();
    const grid = createMemoryGrid({ now: clock.now });
    try {
      const rate = grid.map<number>('rate');
      expect(await rate.increment('ip', 1_000)).toBe(1);
      clock.advance(999);
      expect(await rate.increment('ip', 1_000)).toBe(2);
      clock.advance(1);
      expect(await rate.increment('ip', 1_000)).toBe(1);
    } finally {
      await grid.close();
    }
  });

  it('rejects bad options as programmer errors', () => {
    expect(() => createMemoryGrid({ sweepIntervalMs: 0 })).toThrow(RangeError);
    expect(() => createMemoryGrid({ sweepIntervalMs: 1.5 })).toThrow(RangeError);
    expect(() => createMemoryGrid({ now: 5 as unknown as () => number })).toThrow(TypeError);
  });
});
