// A server under test, as the rounds see it: which rows it can run and how, and which processes
// are it (for RSS).
import type { RoundResult } from './round-result.js';

/**
 * The sides of a row: authmesh, the peer servers (node-oidc-provider; Ory Hydra when installed),
 * the limit (the machine: bare fastify + jose, bare grpc-js + jose), and for bench:scale authmesh
 * on an empty store.
 */
export type SideName = 'authmesh' | 'peer' | 'hydra' | 'limit' | 'empty';
export const SIDES: readonly SideName[] = ['authmesh', 'peer', 'hydra', 'limit', 'empty'];

/** The rows, in the order they run and print. */
export const ROW_IDS = ['client_credentials', 'dpop_client_credentials', 'cc_many_clients', 'introspection', 'jwks', 'refresh', 'grpc_token', 'ext_authz', 'dpop_ext_authz', 'grpc_unary'] as const;
export type RowId = (typeof ROW_IDS)[number];

export const ROW_TITLES: Record<RowId, string> = {
  client_credentials: 'POST /token client_credentials (Basic, ES256 JWT)',
  dpop_client_credentials: 'POST /token client_credentials with a DPoP proof (RFC 9449, ES256 proof, bound ES256 JWT)',
  cc_many_clients: 'POST /token client_credentials, a random client each time (bench:scale)',
  introspection: 'POST /introspect (RFC 7662)',
  jwks: 'GET JWKS',
  refresh: 'POST /token refresh_token (rotation)',
  grpc_token: 'gRPC TokenService/Token client_credentials',
  ext_authz: 'gRPC ext_authz Check (allow)',
  dpop_ext_authz: 'gRPC ext_authz Check (allow) of a DPoP-bound token with its proof',
  grpc_unary: 'gRPC trivial unary call (the grpc-js ceiling, limit only)',
};

/**
 * The gRPC rows that read as a fraction of the grpc-js ceiling (row grpc_unary: the most calls a
 * bare grpc-js server answers here under the same load generator).
 */
export const GRPC_ROWS: readonly RowId[] = ['grpc_token', 'ext_authz', 'dpop_ext_authz'];

/** How one side runs one row. */
export interface Load {
  /** One measured (or warm-up) round: `seconds` s with `connections` in flight. */
  run(seconds: number, connections: number): Promise<RoundResult>;
  /** Work before each round that must not be measured (e.g. minting refresh tokens). */
  prepare?(connections: number): Promise<void>;
  /** What differs from the other sides, printed under the table. */
  note?: string;
}

export interface Target {
  side: SideName;
  /** E.g. "authmesh (embedded)", "node-oidc-provider 9.13.3". */
  label: string;
  /** The HTTP base URL of the OAuth endpoints, when the target has one. */
  http?: string;
  loads: Partial<Record<RowId, Load>>;
  /** The root pids of this server's processes; RSS counts their whole trees. */
  pids(): number[];
  /** Optional names of root pids (stack mode: which service a process is), shown in the RSS table. */
  processNames?(): Map<number, string>;
  stop(): Promise<void>;
}
