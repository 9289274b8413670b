// AUTHMESH_METRICS_HOST / AUTHMESH_METRICS_PORT (issue 16): loopback by default, 0 = any free
// port, off = no listener, anything else refused with a clear message.
import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems } from '../../../test/support/config.js';

describe('metrics listener configuration', () => {
  it('listens on 127.0.0.1:9464 by default (loopback only)', () => {
    const config = loadConfig({});
    expect(config.metricsHost).toBe('127.0.0.1');
    expect(config.metricsPort).toBe(9464);
  });

  it('takes 0 (any free port), a port, and off (no listener)', () => {
    expect(loadConfig({ AUTHMESH_METRICS_PORT: '0' }).metricsPort).toBe(0);
    expect(loadConfig({ AUTHMESH_METRICS_PORT: '19464', AUTHMESH_METRICS_HOST: '::1' })).toMatchObject({ metricsPort: 19464, metricsHost: '::1' });
    expect(loadConfig({ AUTHMESH_METRICS_PORT: 'off' }).metricsPort).toBeUndefined();
  });

  it.each(['65536', '-1', 'OFF', 'none', '94 64'])('refuses AUTHMESH_METRICS_PORT=%j with a clear message', (value) => {
    expect(configProblems({ AUTHMESH_METRICS_PORT: value })).toStrictEqual([
      `AUTHMESH_METRICS_PORT=${JSON.stringify(value)}: expected a port from 0 to 65535 (0 = any free port) or off (no metrics listener)`,
    ]);
  });
});
