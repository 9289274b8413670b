// DPoP at the token endpoint (RFC 9449 §5): validates the proof a token request carries (the
// pure rules in core/oauth/dpop.ts), refuses its replay on any instance (a jti marker in the grid
// for the proof's acceptance window, RFC 9449 §11.1), and keeps the server nonce (RFC 9449 §8)
// in the grid so every instance issues and accepts the same ones.
import type { DpopProof } from '../../gen/ts/authmesh/token/v1/token.js';
import { InvalidDpopProof, TemporarilyUnavailable, UseDpopNonce } from '../core/errors/index.js';
import {
  acceptedDpopNonces,
  assertDpopPolicy,
  dpopReplayKey,
  dpopReplayTtlSeconds,
  nextDpopNonceState,
  normalizeHtu,
  randomIdentifier,
  verifyDpopProof,
  type DpopNonceState,
} from '../core/oauth/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

/** Grid map of proof replay markers (keyed by dpopReplayKey, TTL = the acceptance window). */
export const DPOP_JTI_MAP = 'dpop-jti';
/** Grid map holding the one shared nonce state under NONCE_KEY. */
export const DPOP_NONCE_MAP = 'dpop-nonce';
const NONCE_KEY = 'token-endpoint';

export interface DpopOutcome {
  /** The thumbprint the tokens are bound to (cnf.jkt), or undefined for Bearer tokens. */
  jkt: string | undefined;
  /** The nonce to hand the client for its next proof ('' when nonces are not required). */
  nonce: string;
}

export function createDpopBinding(deps: MeshDeps) {
  const cfg = deps.config;
  const replays = deps.grid.map<number>(DPOP_JTI_MAP);
  const nonces = deps.grid.map<DpopNonceState>(DPOP_NONCE_MAP);
  const tokenEndpoint = normalizeHtu(`${cfg.issuer}/oauth2/token`);

  /** The nonce state in force, rotated when its period is over; every instance converges on one (putIfAbsent / replace). */
  async function nonceState(): Promise<DpopNonceState> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const state = await nonces.get(NONCE_KEY);
      const next = nextDpopNonceState(state, deps.now(), cfg.dpopNoncePeriodSeconds, randomIdentifier(24));
      if (next === undefined && state !== undefined) return state;
      if (next === undefined) continue;
      const won = state === undefined ? await nonces.putIfAbsent(NONCE_KEY, next) : await nonces.replace(NONCE_KEY, state, next);
      if (won) return next;
      // Another instance rotated first: read what it wrote.
    }
    const settled = await nonces.get(NONCE_KEY);
    if (settled === undefined) throw new TemporarilyUnavailable('the DPoP nonce could not be read');
    return settled;
  }

  return {
    /**
     * Checks the DPoP proof of one token request for `client` (RFC 9449 §5, §4.3): none presented
     * gives Bearer tokens unless the client registered dpop_bound_access_tokens (RFC 9449 §5.2).
     * @throws InvalidDpopProof (invalid, replayed, or missing when required), UseDpopNonce (with
     *   metadata dpop_nonce, the nonce to use), TemporarilyUnavailable when the grid is unreachable.
     */
    async check(dpop: DpopProof | undefined, client: ClientView): Promise<DpopOutcome> {
      const presented = dpop !== undefined && dpop.proof !== '';
      assertDpopPolicy({ dpopBoundAccessTokens: client.dpopBoundAccessTokens, proofPresented: presented });
      const state = cfg.dpopNonceRequired && presented ? await nonceState() : undefined;
      if (!presented) return { jkt: undefined, nonce: '' };
      // RFC 9449 §4.3 steps 8-9: a token request's proof names POST and the token endpoint. Checked
      // here, not only by the caller: otherwise a gRPC caller could pass the htm/htu of a proof
      // captured at a resource server and have it accepted as a proof for this endpoint.
      if (dpop.htm !== 'POST' || tokenEndpoint === undefined || normalizeHtu(dpop.htu) !== tokenEndpoint) {
        throw new InvalidDpopProof('the DPoP proof must be for POST to the token endpoint');
      }
      let verified;
      try {
        verified = await verifyDpopProof(dpop.proof, {
          htm: dpop.htm,
          htu: dpop.htu,
          now: deps.now(),
          maxAgeSeconds: cfg.dpopProofMaxAgeSeconds,
          clockSkewSeconds: cfg.dpopClockSkewSeconds,
          nonces: state === undefined ? undefined : acceptedDpopNonces(state),
        });
      } catch (err) {
        // RFC 9449 §8: the error carries the nonce to use (the gateway sends it as DPoP-Nonce).
        if (err instanceof UseDpopNonce && state !== undefined) throw new UseDpopNonce(err.description, { metadata: { dpop_nonce: state.current } });
        throw err;
      }
      // RFC 9449 §11.1: a proof is used once; the marker lives as long as the proof is acceptable.
      const ttlMs = dpopReplayTtlSeconds(cfg.dpopProofMaxAgeSeconds, cfg.dpopClockSkewSeconds) * 1000;
      const first = await replays.putIfAbsent(dpopReplayKey(verified.jkt, verified.jti), verified.iat, ttlMs);
      if (!first) throw new InvalidDpopProof('the DPoP proof was already used');
      return { jkt: verified.jkt, nonce: state?.current ?? '' };
    },
  };
}

export type DpopBinding = ReturnType<typeof createDpopBinding>;
