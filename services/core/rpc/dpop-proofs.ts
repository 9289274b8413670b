// DPoP proofs checked against the grid (RFC 9449): the pure rules of core/oauth/dpop.ts plus the
// two things that need shared state: the jti replay markers (RFC 9449 §11.1, map `dpop-jti`,
// one for the token endpoint and every resource request, so a proof is used once anywhere in the
// mesh) and the server nonce (RFC 9449 §8, §9, map `dpop-nonce`, one nonce state that every
// instance issues and accepts, at the token endpoint and at resource servers alike).
import { TemporarilyUnavailable, UseDpopNonce, InvalidDpopProof } from '../errors/index.js';
import type { Grid } from '../grid/index.js';
import {
  acceptedDpopNonces,
  assertProofBindsToken,
  dpopReplayKey,
  dpopReplayTtlSeconds,
  nextDpopNonceState,
  randomIdentifier,
  verifyDpopProof,
  type DpopNonceState,
  type VerifiedDpopProof,
} from '../oauth/index.js';

/** Grid map of proof replay markers (keyed by dpopReplayKey, TTL = the acceptance window). */
export const DPOP_JTI_MAP = 'dpop-jti';
/** Grid map holding the one shared nonce state under NONCE_KEY. */
export const DPOP_NONCE_MAP = 'dpop-nonce';
const NONCE_KEY = 'token-endpoint';

export interface DpopProofsOptions {
  grid: Grid;
  config: {
    dpopProofMaxAgeSeconds: number;
    dpopClockSkewSeconds: number;
    /** AUTHMESH_DPOP_NONCE: every proof must carry a current server nonce (RFC 9449 §8, §9). */
    dpopNonceRequired: boolean;
    dpopNoncePeriodSeconds: number;
  };
  now: () => Date;
}

export interface CheckedProof {
  verified: VerifiedDpopProof;
  /** The nonce for the client's next proof ('' when nonces are not required). */
  nonce: string;
}

export function createDpopProofs(options: DpopProofsOptions) {
  const cfg = options.config;
  const replays = options.grid.map<number>(DPOP_JTI_MAP);
  const nonces = options.grid.map<DpopNonceState>(DPOP_NONCE_MAP);

  /** The nonce state in force, rotated when its period is over; every instance converges on one (putIfAbsent / replace). */
  async function nonceState(): Promise<DpopNonceState> {
    for (let attempt = 0; attempt < 3; attempt++) {
      const state = await nonces.get(NONCE_KEY);
      const next = nextDpopNonceState(state, options.now(), cfg.dpopNoncePeriodSeconds, randomIdentifier(24));
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

  /**
   * Verifies one proof (RFC 9449 §4.3) for a request made with `htm` to `htu`, with the nonce when
   * required (§8), and, when `accepted` allows it, records its jti so it is never accepted again
   * (§11.1). `accepted` runs after the proof verified and before the jti is recorded: a proof
   * refused by it (e.g. signed by another key than the token's) is not consumed.
   * @throws InvalidDpopProof (invalid or replayed), UseDpopNonce with metadata dpop_nonce,
   *   whatever `accepted` throws, TemporarilyUnavailable when the grid is unreachable.
   */
  async function check(
    proof: string,
    request: { htm: string; htu: string; accessToken?: string | undefined },
    accepted: (verified: VerifiedDpopProof) => void = () => undefined,
  ): Promise<CheckedProof> {
    const state = cfg.dpopNonceRequired ? await nonceState() : undefined;
    let verified;
    try {
      verified = await verifyDpopProof(proof, {
        htm: request.htm,
        htu: request.htu,
        now: options.now(),
        maxAgeSeconds: cfg.dpopProofMaxAgeSeconds,
        clockSkewSeconds: cfg.dpopClockSkewSeconds,
        accessToken: request.accessToken,
        nonces: state === undefined ? undefined : acceptedDpopNonces(state),
      });
    } catch (err) {
      // RFC 9449 §8, §9: the error carries the nonce to use (sent as the DPoP-Nonce header).
      if (err instanceof UseDpopNonce && state !== undefined) throw new UseDpopNonce(err.description, { metadata: { dpop_nonce: state.current } });
      throw err;
    }
    accepted(verified);
    // RFC 9449 §11.1: a proof is used once; the marker lives as long as the proof is acceptable.
    const ttlMs = dpopReplayTtlSeconds(cfg.dpopProofMaxAgeSeconds, cfg.dpopClockSkewSeconds) * 1000;
    const first = await replays.putIfAbsent(dpopReplayKey(verified.jkt, verified.jti), verified.iat, ttlMs);
    if (!first) throw new InvalidDpopProof('the DPoP proof was already used');
    return { verified, nonce: state?.current ?? '' };
  }

  return {
    check,
    /**
     * A resource request made with `Authorization: DPoP <accessToken>` (RFC 9449 §7.1): the proof
     * is for this method and URI, carries ath of this token, and is signed by the key the token is
     * bound to (cnf.jkt); then it is consumed.
     * @throws InvalidToken (the token is not DPoP-bound), InvalidDpopProof, UseDpopNonce,
     *   TemporarilyUnavailable.
     */
    async checkResourceRequest(
      proof: string,
      request: { htm: string; htu: string; accessToken: string; claims: { cnf?: { jkt?: string | undefined } | undefined } },
    ): Promise<CheckedProof> {
      // RFC 9449 §7.1: only a DPoP-bound token may be presented with the DPoP scheme (checked
      // first: an unbound token gets invalid_token whatever the proof).
      if (request.claims.cnf?.jkt === undefined) assertProofBindsToken(request.claims, '');
      return check(proof, request, (verified) => assertProofBindsToken(request.claims, verified.jkt));
    },
    /** The nonce in force ('' when nonces are not required), for a challenge's DPoP-Nonce header (RFC 9449 §9). */
    async currentNonce(): Promise<string> {
      return cfg.dpopNonceRequired ? (await nonceState()).current : '';
    },
  };
}

export type DpopProofs = ReturnType<typeof createDpopProofs>;
