// A DPoP client key and its proofs (RFC 9449 §4.2), signed with jose exactly as a client would;
// options let a test break one property of the proof at a time.
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash } from '../../services/core/oauth/dpop.js';

export interface ProofOptions {
  htm?: string;
  htu: string;
  iat?: number;
  jti?: string;
  nonce?: string;
  accessToken?: string;
  typ?: string;
  /** Extra header members (e.g. a private key in jwk). */
  jwk?: JWK;
  omit?: ('jti' | 'htm' | 'htu' | 'iat')[];
}

export interface DpopKey {
  jwk: JWK;
  jkt: string;
  proof(opts: ProofOptions): Promise<string>;
}

export async function dpopKey(alg: 'ES256' | 'EdDSA' | 'RS256' | 'PS256' = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const jkt = await calculateJwkThumbprint(jwk, 'sha256');
  return { jwk, jkt, proof: (opts) => signProof(privateKey as CryptoKey, alg, opts.jwk ?? jwk, opts) };
}

async function signProof(key: CryptoKey, alg: string, jwk: JWK, o: ProofOptions): Promise<string> {
  const claims: Record<string, unknown> = {
    jti: o.jti ?? randomUUID(),
    htm: o.htm ?? 'POST',
    htu: o.htu,
    iat: o.iat ?? Math.floor(Date.now() / 1000),
  };
  for (const k of o.omit ?? []) delete claims[k];
  if (o.nonce !== undefined) claims.nonce = o.nonce;
  if (o.accessToken !== undefined) claims.ath = accessTokenHash(o.accessToken);
  return new SignJWT(claims).setProtectedHeader({ alg, typ: o.typ ?? 'dpop+jwt', jwk }).sign(key);
}
