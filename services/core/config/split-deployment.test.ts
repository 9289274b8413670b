// A process that runs part of the mesh (issue 10 §1b): it listens where its peers dial it, and it
// refuses per-process state (embedded store, in-process grid, secrets generated into its own data
// directory), naming the variables to set.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';
import { configProblems } from '../../../test/support/config.js';

const problems = configProblems;

const PEERS_BUT_KEY = {
  AUTHMESH_CLIENT_ADDR: '127.0.0.1:50052',
  AUTHMESH_SERVICE_ADDR: '127.0.0.1:50053',
  AUTHMESH_USER_ADDR: '127.0.0.1:50054',
  AUTHMESH_CODE_ADDR: '127.0.0.1:50056',
  AUTHMESH_TOKEN_ADDR: '127.0.0.1:50057',
  AUTHMESH_REFRESH_TOKEN_ADDR: '127.0.0.1:50058',
};
const ALL_ADDRS = { ...PEERS_BUT_KEY, AUTHMESH_KEY_ADDR: '127.0.0.1:50055' };

/** Everything a split process needs to share with the others. */
const SHARED = {
  AUTHMESH_ISSUER: 'http://127.0.0.1:10000',
  AUTHMESH_STORE: 'postgres',
  AUTHMESH_DATABASE_URL: 'postgres://authmesh:pw@127.0.0.1:5432/authmesh',
  AUTHMESH_GRID: 'hazelcast',
  AUTHMESH_MESH_SECRET: randomBytes(32).toString('base64url'),
  AUTHMESH_MASTER_KEY: randomBytes(32).toString('base64'),
  AUTHMESH_COOKIE_SECRET: randomBytes(32).toString('base64url'),
  AUTHMESH_PAIRWISE_SALT: randomBytes(32).toString('base64url'),
};

describe('a process listens where its peers reach it', () => {
  it('listens on the port of its own AUTHMESH_<SVC>_ADDR when AUTHMESH_GRPC_PORT is unset', () => {
    const config = loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'key' });
    expect(config.grpcPort).toBe(50055);
  });

  it('refuses its own address on one port and AUTHMESH_GRPC_PORT on another, naming both', () => {
    const found = problems({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'key', AUTHMESH_GRPC_PORT: '50051' }).join('\n');
    expect(found).toMatch(/AUTHMESH_GRPC_PORT=50051 but AUTHMESH_KEY_ADDR=127.0.0.1:50055/);
  });

  it('accepts AUTHMESH_GRPC_PORT equal to its own address (the docker-compose shape)', () => {
    const config = loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_KEY_ADDR: 'key:50051', AUTHMESH_SERVICES: 'key', AUTHMESH_GRPC_PORT: '50051' });
    expect(config.grpcPort).toBe(50051);
  });

  it('refuses two services of one process whose addresses name different ports', () => {
    const found = problems({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'key,token' }).join('\n');
    expect(found).toMatch(/AUTHMESH_KEY_ADDR=127.0.0.1:50055, AUTHMESH_TOKEN_ADDR=127.0.0.1:50057: .*one gRPC port/);
  });

  it('keeps the default port when no own address is given', () => {
    expect(loadConfig({ ...SHARED, ...PEERS_BUT_KEY, AUTHMESH_SERVICES: 'key' }).grpcPort).toBe(50051);
  });
});

describe('a split process refuses per-process state', () => {
  it('starts when everything shared is given', () => {
    expect(problems({ ...SHARED, ...PEERS_BUT_KEY, AUTHMESH_SERVICES: 'key' })).toStrictEqual([]);
    expect(problems({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'gateway' })).toStrictEqual([]);
  });

  it('refuses the embedded store, naming AUTHMESH_STORE and AUTHMESH_DATABASE_URL', () => {
    const { AUTHMESH_STORE: _s, AUTHMESH_DATABASE_URL: _u, ...rest } = SHARED;
    const found = problems({ ...rest, ...PEERS_BUT_KEY, AUTHMESH_SERVICES: 'key' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^AUTHMESH_STORE: .*AUTHMESH_SERVICES=key.*set AUTHMESH_STORE=postgres \(or mysql\) and AUTHMESH_DATABASE_URL/);
  });

  it('refuses the in-process grid, naming AUTHMESH_GRID=hazelcast', () => {
    const { AUTHMESH_GRID: _g, ...rest } = SHARED;
    const found = problems({ ...rest, ...PEERS_BUT_KEY, AUTHMESH_SERVICES: 'key' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^AUTHMESH_GRID: .*set AUTHMESH_GRID=hazelcast and AUTHMESH_HAZELCAST_MEMBERS/);
  });

  it.each([
    ['AUTHMESH_MESH_SECRET', 'key'],
    ['AUTHMESH_MASTER_KEY', 'key'],
    ['AUTHMESH_ISSUER', 'key'],
    ['AUTHMESH_MESH_SECRET', 'gateway'],
    ['AUTHMESH_COOKIE_SECRET', 'gateway'],
    ['AUTHMESH_ISSUER', 'gateway'],
  ])('refuses a generated or default %s when it runs %s', (variable, services) => {
    const env: NodeJS.ProcessEnv = { ...SHARED, ...(services === 'key' ? PEERS_BUT_KEY : ALL_ADDRS), AUTHMESH_SERVICES: services };
    delete env[variable];
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^${variable}: required because this process runs part of a split deployment \\(AUTHMESH_SERVICES=${services}\\)`));
  });

  it.each(['token', 'code', 'user'])('refuses a generated AUTHMESH_PAIRWISE_SALT when it runs %s (pairwise subs would differ per process)', (services) => {
    const env: NodeJS.ProcessEnv = { ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: services };
    delete env.AUTHMESH_PAIRWISE_SALT;
    const found = problems(env);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(new RegExp(`^AUTHMESH_PAIRWISE_SALT: required because this process runs part of a split deployment \\(AUTHMESH_SERVICES=${services}\\)`));
  });

  it('asks a gateway alone for no store, grid or master key: it holds no state', () => {
    const found = problems({ ...ALL_ADDRS, AUTHMESH_SERVICES: 'gateway' }).join('\n');
    expect(found).toMatch(/AUTHMESH_MESH_SECRET/);
    expect(found).toMatch(/AUTHMESH_COOKIE_SECRET/);
    expect(found).not.toMatch(/AUTHMESH_STORE|AUTHMESH_GRID|AUTHMESH_MASTER_KEY/);
  });

  it('reports every missing variable at once, for the two-process embedded setup of the issue', () => {
    const found = problems({ ...PEERS_BUT_KEY, AUTHMESH_SERVICES: 'key' }).map((p) => p.split(':')[0]);
    expect(found.sort()).toStrictEqual(['AUTHMESH_GRID', 'AUTHMESH_ISSUER', 'AUTHMESH_MASTER_KEY', 'AUTHMESH_MESH_SECRET', 'AUTHMESH_STORE']);
  });

  it('asks all seven services without the gateway only for the mesh secret the gateway elsewhere presents', () => {
    expect(problems({ AUTHMESH_SERVICES: 'client,service,user,key,code,token,refresh-token' }).map((p) => p.split(':')[0])).toStrictEqual(['AUTHMESH_MESH_SECRET']);
  });

  it('leaves embedded mode (everything in one process) free of any requirement', () => {
    expect(problems({})).toStrictEqual([]);
  });
});

// Issue 18: AUTHMESH_<SVC>_ADDR lists every instance of a service, so peers balance over them and
// a restarting instance is skipped; the process itself says which instance it is.
describe('a service address lists its instances', () => {
  const TWO_KEYS = { ...ALL_ADDRS, AUTHMESH_KEY_ADDR: '127.0.0.1:50055, 127.0.0.1:50155' };

  it('all_in_one_with_instance_lists_needs_shared_state: refuses the embedded store and in-process grid (review 10 F2)', () => {
    // Every service in one process, its token calls balanced over itself and another instance
    // (gRPC transport): that other instance would hold revocations this one never sees.
    const found = problems({ AUTHMESH_TOKEN_ADDR: '127.0.0.1:6000,127.0.0.1:6001', AUTHMESH_GRPC_PORT: '6000', AUTHMESH_PEER_TRANSPORT: 'grpc' });
    expect(found.map((p) => p.split(':')[0])).toEqual(expect.arrayContaining(['AUTHMESH_STORE', 'AUTHMESH_GRID']));
    expect(found.join('\n')).toMatch(/AUTHMESH_TOKEN_ADDR list several instances/);
    // With a shared store and grid, the same lists are fine.
    const shared = problems({ ...SHARED, AUTHMESH_TOKEN_ADDR: '127.0.0.1:6000,127.0.0.1:6001', AUTHMESH_GRPC_PORT: '6000', AUTHMESH_PEER_TRANSPORT: 'grpc' });
    expect(shared.filter((p) => /^AUTHMESH_(STORE|GRID)\b/.test(p))).toEqual([]);
  });

  it('gives peers the whole list, without blanks', () => {
    const config = loadConfig({ ...SHARED, ...TWO_KEYS, AUTHMESH_SERVICES: 'gateway' });
    expect(config.addresses.key).toBe('127.0.0.1:50055,127.0.0.1:50155');
    expect(config.addresses.client).toBe('127.0.0.1:50052');
  });

  it('accepts names and IPv6 literals in a list (the Kubernetes and compose shapes)', () => {
    const config = loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_TOKEN_ADDR: 'token-0.token:50051,token-1.token:50051,[::1]:50057', AUTHMESH_SERVICES: 'gateway' });
    expect(config.addresses.token).toBe('token-0.token:50051,token-1.token:50051,[::1]:50057');
  });

  it('names this instance by AUTHMESH_GRPC_PORT, which must be one of the listed ports', () => {
    expect(loadConfig({ ...SHARED, ...TWO_KEYS, AUTHMESH_SERVICES: 'key', AUTHMESH_GRPC_PORT: '50155' }).grpcPort).toBe(50155);
    const found = problems({ ...SHARED, ...TWO_KEYS, AUTHMESH_SERVICES: 'key', AUTHMESH_GRPC_PORT: '50255' }).join('\n');
    expect(found).toMatch(/AUTHMESH_GRPC_PORT=50255 but AUTHMESH_KEY_ADDR=127\.0\.0\.1:50055, 127\.0\.0\.1:50155 .*names no instance on port 50255/);
  });

  it('refuses a list for its own service without AUTHMESH_GRPC_PORT: which instance it is would be a guess', () => {
    const found = problems({ ...SHARED, ...TWO_KEYS, AUTHMESH_SERVICES: 'key' }).join('\n');
    expect(found).toMatch(/AUTHMESH_KEY_ADDR=127\.0\.0\.1:50055, 127\.0\.0\.1:50155: a list of instances; set AUTHMESH_GRPC_PORT/);
  });

  it('checks every own list of a grouped process against the one port', () => {
    const env = { ...SHARED, ...ALL_ADDRS, AUTHMESH_KEY_ADDR: '127.0.0.1:50055,127.0.0.1:50155', AUTHMESH_TOKEN_ADDR: '127.0.0.1:50055,127.0.0.1:50255', AUTHMESH_SERVICES: 'key,token' };
    expect(problems({ ...env, AUTHMESH_GRPC_PORT: '50055' })).toStrictEqual([]);
    const found = problems({ ...env, AUTHMESH_GRPC_PORT: '50155' });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/AUTHMESH_TOKEN_ADDR=127\.0\.0\.1:50055,127\.0\.0\.1:50255 .*names no instance on port 50155/);
  });

  it.each([
    ['an empty entry', '127.0.0.1:50055,,127.0.0.1:50155', /an empty entry is not host:port/],
    ['a trailing comma', '127.0.0.1:50055,', /an empty entry is not host:port/],
    ['an entry without a port', '127.0.0.1:50055,key-1', /"key-1" is not host:port/],
    ['port 0', '127.0.0.1:0', /"127\.0\.0\.1:0" is not host:port with a port from 1 to 65535/],
    ['a port over 65535', '127.0.0.1:50055,127.0.0.1:70000', /"127\.0\.0\.1:70000" is not host:port/],
    ['a URL instead of host:port', 'http://127.0.0.1:50055', /"http:\/\/127\.0\.0\.1:50055" is not host:port/],
    ['an instance listed twice', '127.0.0.1:50055,127.0.0.1:50055', /127\.0\.0\.1:50055 is listed twice/],
  ])('refuses %s, naming the variable and the entry', (_what, value, message) => {
    const found = problems({ ...SHARED, ...ALL_ADDRS, AUTHMESH_KEY_ADDR: value, AUTHMESH_SERVICES: 'gateway' }).join('\n');
    expect(found).toMatch(/^AUTHMESH_KEY_ADDR=/m);
    expect(found).toMatch(message);
  });

  it('keeps a single address working exactly as before (its port is the listen port)', () => {
    expect(loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'key' }).grpcPort).toBe(50055);
    expect(loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'gateway' }).addresses.key).toBe('127.0.0.1:50055');
  });
});

describe('the drain delay', () => {
  it('is 5 s for a process running part of the mesh and 0 for the all-in-one process', () => {
    expect(loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'key' }).drainSeconds).toBe(5);
    expect(loadConfig({}).drainSeconds).toBe(0);
  });

  it('takes AUTHMESH_DRAIN_SECONDS from 0 to 120 and refuses other values', () => {
    expect(loadConfig({ ...SHARED, ...ALL_ADDRS, AUTHMESH_SERVICES: 'key', AUTHMESH_DRAIN_SECONDS: '0' }).drainSeconds).toBe(0);
    expect(problems({ AUTHMESH_DRAIN_SECONDS: '121' }).join('\n')).toMatch(/AUTHMESH_DRAIN_SECONDS/);
    expect(problems({ AUTHMESH_DRAIN_SECONDS: 'soon' }).join('\n')).toMatch(/AUTHMESH_DRAIN_SECONDS/);
  });
});
