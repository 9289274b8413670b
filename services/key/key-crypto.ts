// Private signing keys at rest: AES-256-GCM under the master key, with the kid as additional
// authenticated data so a ciphertext cannot be swapped onto another key's row.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';

export function encryptPrivateKey(masterKey: Buffer, kid: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', masterKey, iv);
  cipher.setAAD(Buffer.from(kid, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
  return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}`;
}

export function decryptPrivateKey(masterKey: Buffer, kid: string, sealed: string): string {
  const [version, ivB64, bodyB64] = sealed.split('.');
  if (version !== VERSION || !ivB64 || !bodyB64) throw new Error(`key ${kid}: unknown ciphertext format`);
  const body = Buffer.from(bodyB64, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', masterKey, Buffer.from(ivB64, 'base64url'));
  decipher.setAAD(Buffer.from(kid, 'utf8'));
  decipher.setAuthTag(body.subarray(body.length - 16));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - 16)), decipher.final()]).toString('utf8');
  } catch {
    throw new Error(`key ${kid}: cannot decrypt (wrong AUTHMESH_MASTER_KEY?)`);
  }
}
