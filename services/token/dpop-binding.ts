// DPoP at the token endpoint (RFC 9449 §5): validates the proof a token request carries (the
// pure rules in core/oauth/dpop.ts), refuses its replay on any instance (a jti marker in the grid
// for the proof's acceptance window, RFC 9449 §11.1), and keeps the server nonce (RFC 9449 §8)
// in the grid so every instance issues and accepts the same ones.
import type { DpopProof } from '../../gen/ts/authmesh/token/v1/token.js';
import { InvalidDpopProof } from '../core/errors/index.js';
import { assertDpopPolicy, normalizeHtu } from '../core/oauth/index.js';
import { createDpopProofs } from '../core/rpc/index.js';
import type { MeshDeps } from '../mesh-deps.js';
import type { ClientView } from './client-view.js';

export { DPOP_JTI_MAP, DPOP_NONCE_MAP } from '../core/rpc/dpop-proofs.js';

export interface DpopOutcome {
  /** The thumbprint the tokens are bound to (cnf.jkt), or undefined for Bearer tokens. */
  jkt: string | undefined;
  /** The nonce to hand the client for its next proof ('' when nonces are not required). */
  nonce: string;
}

export function createDpopBinding(deps: MeshDeps) {
  const cfg = deps.config;
  const proofs = createDpopProofs({ grid: deps.grid, config: cfg, now: () => deps.now() });
  const tokenEndpoint = normalizeHtu(`${cfg.issuer}/oauth2/token`);

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
      if (!presented) return { jkt: undefined, nonce: '' };
      // RFC 9449 §4.3 steps 8-9: a token request's proof names POST and the token endpoint. Checked
      // here, not only by the caller: otherwise a gRPC caller could pass the htm/htu of a proof
      // captured at a resource server and have it accepted as a proof for this endpoint.
      if (dpop.htm !== 'POST' || tokenEndpoint === undefined || normalizeHtu(dpop.htu) !== tokenEndpoint) {
        throw new InvalidDpopProof('the DPoP proof must be for POST to the token endpoint');
      }
      const { verified, nonce } = await proofs.check(dpop.proof, { htm: dpop.htm, htu: dpop.htu });
      return { jkt: verified.jkt, nonce };
    },
  };
}

export type DpopBinding = ReturnType<typeof createDpopBinding>;
