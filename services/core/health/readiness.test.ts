// The readiness tracker's own rules, over real promises and a controllable clock: probes that
// answer, fail, or hang; what a burst of askers costs; draining.
import { describe, expect, it } from 'vitest';
import { createReadiness, type ReadinessReport } from './readiness.js';

function counter(behaviour: () => Promise<void>) {
  const probe = { calls: 0, check: () => (probe.calls++, behaviour()) };
  return probe;
}

describe('readiness', () => {
  it('is ready when every dependency answers, and names the one that does not', async () => {
    let storeUp = true;
    const r = createReadiness({
      cacheMs: 0,
      probes: [
        { name: 'store', check: async () => { if (!storeUp) throw new Error('ECONNREFUSED postgres://authmesh:secret@db/authmesh'); } },
        { name: 'grid', check: async () => undefined },
      ],
    });
    expect(await r.check()).toStrictEqual({ ready: true, draining: false, checks: { store: 'ok', grid: 'ok' } });
    storeUp = false;
    const down = await r.check();
    expect(down).toStrictEqual({ ready: false, draining: false, checks: { store: 'unreachable', grid: 'ok' } });
    // The report carries names and states only, never the driver's error text (it can hold a URL with a password).
    expect(JSON.stringify(down)).not.toContain('secret');
  });

  it('bounds a probe that hangs: it counts as timeout instead of holding the answer', async () => {
    const r = createReadiness({ timeoutMs: 50, probes: [{ name: 'grid', check: () => new Promise<void>(() => undefined) }] });
    expect(await r.check()).toStrictEqual({ ready: false, draining: false, checks: { grid: 'timeout' } });
  });

  it('protects the dependencies from a burst of health checks: concurrent askers share one probe, and a result is reused for cacheMs', async () => {
    let t = 0;
    let release: () => void = () => undefined;
    const probe = counter(() => new Promise<void>((resolve) => (release = resolve)));
    const r = createReadiness({ cacheMs: 1_000, now: () => t, probes: [{ name: 'store', check: probe.check }] });
    const burst = Array.from({ length: 50 }, () => r.check());
    release();
    const answers = await Promise.all(burst);
    expect(probe.calls).toBe(1);
    for (const a of answers) expect(a.ready).toBe(true);
    t = 999;
    await r.check();
    expect(probe.calls).toBe(1);
    t = 1_000;
    const again = r.check();
    release();
    await again;
    expect(probe.calls).toBe(2);
  });

  it('reports not ready once draining, whatever the dependencies say, and tells onChange each flip once', async () => {
    const changes: ReadinessReport[] = [];
    const r = createReadiness({ cacheMs: 0, probes: [{ name: 'store', check: async () => undefined }], onChange: (rep) => changes.push(rep) });
    await r.check();
    await r.check();
    r.drain();
    const drained = await r.check();
    expect(drained).toStrictEqual({ ready: false, draining: true, checks: { store: 'ok' } });
    expect(changes.map((c) => [c.ready, c.draining])).toStrictEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('with no dependency (a gateway-only process) is ready until it drains', async () => {
    const r = createReadiness({ probes: [] });
    expect(await r.check()).toStrictEqual({ ready: true, draining: false, checks: {} });
    r.drain();
    expect((await r.check()).ready).toBe(false);
  });

  it('probes in the background on intervalMs, so push-style health follows without askers, and stops on close', async () => {
    const probe = counter(async () => undefined);
    const seen: boolean[] = [];
    const r = createReadiness({ intervalMs: 10, probes: [{ name: 'grid', check: probe.check }], onChange: (rep) => seen.push(rep.ready) });
    for (let i = 0; i < 200 && probe.calls < 3; i++) await new Promise((res) => setTimeout(res, 10));
    expect(probe.calls).toBeGreaterThanOrEqual(3);
    expect(seen).toStrictEqual([true]);
    r.close();
    const after = probe.calls;
    await new Promise((res) => setTimeout(res, 50));
    expect(probe.calls).toBeLessThanOrEqual(after + 1);
  });
});
