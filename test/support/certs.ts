// X.509 certificates for mutual-TLS tests (RFC 8705), made by the openssl CLI in a temporary
// directory: a CA, an intermediate, client certificates signed by either, self-signed ones. Each
// result carries PEM paths (for TLS clients and Envoy) and DER (for the rules under test).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  der: Buffer;
}

export interface CertFactory {
  dir: string;
  /** A CA certificate (basicConstraints CA:TRUE), self-signed or signed by `issuer`. */
  ca(name: string, subject: string, issuer?: TestCert): TestCert;
  /** An end-entity client certificate (EKU clientAuth) signed by `issuer`, or self-signed without one. */
  leaf(name: string, subject: string, options?: { issuer?: TestCert; san?: string; days?: number; eku?: string; multivalueRdn?: boolean }): TestCert;
  cleanup(): void;
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

export function certFactory(): CertFactory {
  const dir = mkdtempSync(join(tmpdir(), 'authmesh-certs-'));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const load = (name: string): TestCert => {
    const certPath = join(dir, `${name}.crt`);
    const keyPath = join(dir, `${name}.key`);
    const certPem = readFileSync(certPath, 'utf8');
    return { certPath, keyPath, certPem, keyPem: readFileSync(keyPath, 'utf8'), der: pemToDer(certPem) };
  };
  const newKey = (name: string) => openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  const sign = (name: string, subject: string, ext: string, issuer: TestCert | undefined, days: number, multivalue: boolean) => {
    // Our own config: the system one would add its default (CA) extensions to a self-signed leaf.
    writeFileSync(join(dir, `${name}.cnf`), `[req]\ndistinguished_name = dn\n[dn]\n[ext]\n${ext}`);
    const mv = multivalue ? ['-multivalue-rdn'] : [];
    if (issuer === undefined) {
      openssl(['req', '-x509', '-new', '-key', `${name}.key`, '-config', `${name}.cnf`, '-extensions', 'ext', '-subj', subject, ...mv, '-days', String(days), '-sha256', '-out', `${name}.crt`]);
      return;
    }
    openssl(['req', '-new', '-key', `${name}.key`, '-config', `${name}.cnf`, '-subj', subject, ...mv, '-out', `${name}.csr`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', issuer.certPath, '-CAkey', issuer.keyPath, '-CAcreateserial', '-days', String(days), '-sha256', '-extfile', `${name}.cnf`, '-extensions', 'ext', '-out', `${name}.crt`]);
  };
  return {
    dir,
    ca(name, subject, issuer) {
      newKey(name);
      sign(name, subject, 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n', issuer, 2, false);
      return load(name);
    },
    leaf(name, subject, options = {}) {
      newKey(name);
      const lines = ['basicConstraints=CA:FALSE', `extendedKeyUsage=${options.eku ?? 'clientAuth'}`];
      if (options.san) lines.push(`subjectAltName=${options.san}`);
      sign(name, subject, `${lines.join('\n')}\n`, options.issuer, options.days ?? 2, options.multivalueRdn ?? false);
      return load(name);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
