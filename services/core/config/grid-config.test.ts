import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems } from '../../../test/support/config.js';

const problems = configProblems;

describe('grid configuration', () => {
  it('defaults to the in-process grid, with the local two-member cluster as Hazelcast default', () => {
    const config = loadConfig({});
    expect(config.grid).toBe('memory');
    expect(config.hazelcastMembers).toStrictEqual(['127.0.0.1:5701', '127.0.0.1:5702']);
    expect(config.hazelcastCluster).toBe('authmesh');
  });

  it('selects Hazelcast with its members and cluster name', () => {
    const config = loadConfig({ AUTHMESH_GRID: 'hazelcast', AUTHMESH_HAZELCAST_MEMBERS: 'hz-1:5701, hz-2:5701,[::1]:5701', AUTHMESH_HAZELCAST_CLUSTER: 'prod-authmesh' });
    expect(config.grid).toBe('hazelcast');
    expect(config.hazelcastMembers).toStrictEqual(['hz-1:5701', 'hz-2:5701', '[::1]:5701']);
    expect(config.hazelcastCluster).toBe('prod-authmesh');
  });

  it.each([
    [{ AUTHMESH_GRID: 'redis' }, /AUTHMESH_GRID="redis": expected memory or hazelcast/],
    [{ AUTHMESH_HAZELCAST_MEMBERS: ' , ' }, /AUTHMESH_HAZELCAST_MEMBERS: expected a comma-separated list/],
    [{ AUTHMESH_HAZELCAST_MEMBERS: '127.0.0.1' }, /"127.0.0.1" is not host:port/],
    [{ AUTHMESH_HAZELCAST_MEMBERS: '127.0.0.1:70000' }, /"127.0.0.1:70000" is not host:port/],
    [{ AUTHMESH_HAZELCAST_CLUSTER: 'bad name' }, /AUTHMESH_HAZELCAST_CLUSTER="bad name"/],
  ])('reports %o clearly', (env, message) => {
    expect(problems(env as NodeJS.ProcessEnv).join('\n')).toMatch(message);
  });
});

describe('peer transport configuration', () => {
  it('calls co-located services in process by default, over gRPC when asked', () => {
    expect(loadConfig({}).peerTransport).toBe('in-process');
    expect(loadConfig({ AUTHMESH_PEER_TRANSPORT: 'grpc' }).peerTransport).toBe('grpc');
  });

  it('reports an unknown transport clearly', () => {
    expect(problems({ AUTHMESH_PEER_TRANSPORT: 'http' }).join('\n')).toMatch(/AUTHMESH_PEER_TRANSPORT="http": expected in-process .* or grpc/);
  });
});
