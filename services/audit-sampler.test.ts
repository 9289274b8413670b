// Junk traffic must not grow the audit trail without bound: repeated failures are summarised per
// key and per window, over every key together as well.
import { describe, expect, it } from 'vitest';
import { createMemoryGrid } from './core/grid/index.js';
import { silentLogger } from './core/log/index.js';
import { createAuditSampler, type AuditSample } from './audit-sampler.js';

const rowsOf = (samples: AuditSample[]) => samples.filter((s) => s !== 'skip').length;

describe('audit sampler', () => {
  it('audit rows for one noisy key are bounded per window: the first failures, then one summary', async () => {
    const sampler = createAuditSampler(createMemoryGrid(), silentLogger(), { windowMs: 60_000, perKey: 5, global: 100 });
    const samples: AuditSample[] = [];
    for (let i = 0; i < 500; i++) samples.push(await sampler.sample('ip:198.51.100.7'));
    expect(samples.slice(0, 5)).toEqual(Array(5).fill('record'));
    expect(samples[5]).toBe('suppress_key');
    expect(rowsOf(samples)).toBe(6);
    // Another key still gets its own first rows: one noisy key hides nobody else.
    expect(await sampler.sample('ip:203.0.113.1')).toBe('record');
  });

  it('audit rows for junk with ever new keys are bounded per window over all keys', async () => {
    const sampler = createAuditSampler(createMemoryGrid(), silentLogger(), { windowMs: 60_000, perKey: 5, global: 100 });
    const samples: AuditSample[] = [];
    for (let i = 0; i < 1_000; i++) samples.push(await sampler.sample(`client:junk-${i}`));
    expect(samples.slice(0, 100)).toEqual(Array(100).fill('record'));
    expect(samples[100]).toBe('suppress_all');
    expect(rowsOf(samples)).toBe(101);
  });

  it('starts recording again in the next window', async () => {
    let now = 1_000_000;
    const sampler = createAuditSampler(createMemoryGrid({ now: () => now }), silentLogger(), { windowMs: 60_000, perKey: 1, global: 100 });
    expect([await sampler.sample('k'), await sampler.sample('k'), await sampler.sample('k')]).toEqual(['record', 'suppress_key', 'skip']);
    now += 60_001;
    expect(await sampler.sample('k')).toBe('record');
  });

  it('records the event when the grid cannot count', async () => {
    const grid = createMemoryGrid();
    const sampler = createAuditSampler(grid, silentLogger(), { windowMs: 60_000, perKey: 1, global: 1 });
    await grid.close();
    expect(await sampler.sample('ip:198.51.100.7')).toBe('record');
  });
});
