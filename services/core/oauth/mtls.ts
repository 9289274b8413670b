// OAuth 2.0 Mutual-TLS (RFC 8705): the pure rules. Reading what a client certificate says (its
// subject DN and subjectAltName entries, from the DER), matching it against the client's
// registration (tls_client_auth, RFC 8705 §2.1; self_signed_tls_client_auth, §2.2), validating a
// CA-issued chain against the configured trust anchors, the certificate thumbprint of a bound token
// (cnf.x5t#S256, §3.1) and reading Envoy's x-forwarded-client-cert header. No I/O.
import { createHash, createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { InvalidRequest } from '../errors/index.js';
import type { AccessTokenClaims } from './access-token-claims.js';

/** RFC 8705 §2.1 / §2.2: the two client authentication methods. */
export const TLS_CLIENT_AUTH = 'tls_client_auth';
export const SELF_SIGNED_TLS_CLIENT_AUTH = 'self_signed_tls_client_auth';

/** RFC 8705 §2.1.2: the metadata naming what a tls_client_auth certificate must carry (exactly one). */
export const TLS_CLIENT_AUTH_METADATA = [
  'tls_client_auth_subject_dn',
  'tls_client_auth_san_dns',
  'tls_client_auth_san_uri',
  'tls_client_auth_san_ip',
  'tls_client_auth_san_email',
] as const;
export type TlsClientAuthMetadataName = (typeof TLS_CLIENT_AUTH_METADATA)[number];

/** RFC 8705 §2.1.2: one expected value of a tls_client_auth client. */
export interface TlsClientAuthExpectation {
  name: TlsClientAuthMetadataName;
  value: string;
}

/** Largest certificate (DER bytes) accepted anywhere: real client certificates are a few KB. */
export const MAX_CERTIFICATE_BYTES = 16_384;
/** Most certificates in a forwarded chain. */
export const MAX_CHAIN_LENGTH = 8;

// ---------------------------------------------------------------------------------------------
// DER reading (X.690 §8.1): just enough of RFC 5280 §4.1 to reach the subject and the extensions.

interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  contentStart: number;
  end: number;
}

class DerError extends Error {}

function readTlv(buf: Uint8Array, pos: number, limit: number): Tlv {
  if (pos + 2 > limit) throw new DerError('truncated');
  const tag = buf[pos]!;
  // Multi-byte tag numbers (low five bits all set) do not occur in the structures read here.
  if ((tag & 0x1f) === 0x1f) throw new DerError('unsupported tag');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    // DER: no indefinite length, at most 4 length octets here.
    if (n === 0 || n > 4 || p + n > limit) throw new DerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    p += n;
  }
  if (p + len > limit) throw new DerError('truncated');
  return { tag, start: pos, contentStart: p, end: p + len };
}

function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end);
    out.push(t);
    pos = t.end;
  }
  return out;
}

function expectTag(t: Tlv | undefined, tag: number): Tlv {
  if (t === undefined || t.tag !== tag) throw new DerError('unexpected structure');
  return t;
}

function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  if (bytes[bytes.length - 1]! & 0x80) throw new DerError('truncated OID');
  return parts.join('.');
}

const SEQUENCE = 0x30;
const SET = 0x31;
const OID = 0x06;

/** The string types of X.520 DirectoryString and friends, decoded to text. */
function decodeDirectoryString(tag: number, bytes: Uint8Array): string | undefined {
  const b = Buffer.from(bytes);
  switch (tag) {
    case 0x0c: // UTF8String
      return b.toString('utf8');
    case 0x13: // PrintableString
    case 0x16: // IA5String
    case 0x1a: // VisibleString
      return b.toString('latin1');
    case 0x14: // TeletexString: treated as Latin-1, as most toolkits do
      return b.toString('latin1');
    case 0x1e: {
      // BMPString: UTF-16BE
      if (b.length % 2 !== 0) return undefined;
      const swapped = Buffer.from(b);
      swapped.swap16();
      return swapped.toString('utf16le');
    }
    case 0x1c: {
      // UniversalString: UTF-32BE
      if (b.length % 4 !== 0) return undefined;
      let s = '';
      for (let i = 0; i < b.length; i += 4) {
        const cp = b.readUInt32BE(i);
        if (cp > 0x10ffff) return undefined;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default:
      return undefined;
  }
}

/** One attribute of a relative distinguished name (RFC 4514 §2.3). */
export interface DnAttribute {
  /** The attribute type's OID, dotted. */
  oid: string;
  /** The decoded string value, or undefined when the type is not a string type. */
  text: string | undefined;
  /** RFC 4514 §2.4: the BER encoding of the value, hex, lower case. */
  hex: string;
}

/** A distinguished name in ASN.1 order (RDNSequence, most significant RDN first), each RDN a set of attributes. */
export type DistinguishedName = DnAttribute[][];

/** What a client certificate says about its holder, read from the DER (RFC 5280 §4.1.2.6, §4.2.1.6). */
export interface CertificateIdentity {
  subject: DistinguishedName;
  sanDns: string[];
  sanUri: string[];
  /** iPAddress entries as their raw bytes (4 or 16). */
  sanIp: Uint8Array[];
  sanEmail: string[];
}

function readName(buf: Uint8Array, name: Tlv): DistinguishedName {
  return children(buf, expectTag(name, SEQUENCE)).map((rdn) =>
    children(buf, expectTag(rdn, SET)).map((atv) => {
      const [type, value] = children(buf, expectTag(atv, SEQUENCE));
      const oid = decodeOid(buf.subarray(expectTag(type, OID).contentStart, type!.end));
      if (value === undefined) throw new DerError('attribute without value');
      return {
        oid,
        text: decodeDirectoryString(value.tag, buf.subarray(value.contentStart, value.end)),
        hex: Buffer.from(buf.subarray(value.start, value.end)).toString('hex'),
      };
    }),
  );
}

const SUBJECT_ALT_NAME = '2.5.29.17';

/**
 * Reads the subject and subjectAltName of a DER certificate (RFC 5280 §4.1.2.6, §4.2.1.6).
 * @throws InvalidRequest when the bytes are not a certificate this reader understands
 */
export function readCertificateIdentity(der: Uint8Array): CertificateIdentity {
  try {
    if (der.length > MAX_CERTIFICATE_BYTES) throw new DerError('too large');
    const cert = expectTag(readTlv(der, 0, der.length), SEQUENCE);
    if (cert.end !== der.length) throw new DerError('trailing bytes');
    const tbs = children(der, expectTag(children(der, cert)[0], SEQUENCE));
    // RFC 5280 §4.1: [0] version (optional), serialNumber, signature, issuer, validity, subject,
    // subjectPublicKeyInfo, [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions.
    let i = tbs[0]?.tag === 0xa0 ? 1 : 0;
    i += 4;
    const subject = readName(der, expectTag(tbs[i], SEQUENCE));
    const identity: CertificateIdentity = { subject, sanDns: [], sanUri: [], sanIp: [], sanEmail: [] };
    const extensions = tbs.slice(i + 2).find((t) => t.tag === 0xa3);
    if (extensions === undefined) return identity;
    for (const ext of children(der, expectTag(children(der, extensions)[0], SEQUENCE))) {
      const parts = children(der, expectTag(ext, SEQUENCE));
      const oid = decodeOid(der.subarray(expectTag(parts[0], OID).contentStart, parts[0]!.end));
      if (oid !== SUBJECT_ALT_NAME) continue;
      const octets = expectTag(parts[parts.length - 1], 0x04);
      const names = expectTag(readTlv(der, octets.contentStart, octets.end), SEQUENCE);
      for (const gn of children(der, names)) {
        const bytes = der.subarray(gn.contentStart, gn.end);
        // RFC 5280 §4.2.1.6 GeneralName: [1] rfc822Name, [2] dNSName, [6] URI (IA5String), [7] iPAddress.
        if (gn.tag === 0x81) identity.sanEmail.push(Buffer.from(bytes).toString('latin1'));
        else if (gn.tag === 0x82) identity.sanDns.push(Buffer.from(bytes).toString('latin1'));
        else if (gn.tag === 0x86) identity.sanUri.push(Buffer.from(bytes).toString('latin1'));
        else if (gn.tag === 0x87 && (bytes.length === 4 || bytes.length === 16)) identity.sanIp.push(Uint8Array.from(bytes));
      }
    }
    return identity;
  } catch (err) {
    if (err instanceof DerError) throw new InvalidRequest('the client certificate could not be read');
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 4514 distinguished names.

/** RFC 4514 §3 attribute type names (and the common SERIALNUMBER, emailAddress), upper case → OID. */
const ATTRIBUTE_TYPES: Record<string, string> = {
  CN: '2.5.4.3',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  C: '2.5.4.6',
  STREET: '2.5.4.9',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  SERIALNUMBER: '2.5.4.5',
  EMAILADDRESS: '1.2.840.113549.1.9.1',
};

/** One attribute of a DN written as an RFC 4514 string. */
export interface ParsedDnAttribute {
  oid: string;
  /** Unescaped value; for a #hexstring value, undefined (compare `hex`). */
  text: string | undefined;
  hex: string | undefined;
}

const SPECIAL = '"+,;<>\\#= ';

/**
 * Parses an RFC 4514 DN string into RDNs in the STRING's order (least significant first,
 * RFC 4514 §2.1). Spaces around separators are tolerated.
 * @throws InvalidRequest for a string that is not an RFC 4514 DN
 */
export function parseRfc4514Dn(dn: string): ParsedDnAttribute[][] {
  const bad = (why: string) => new InvalidRequest(`the distinguished name is not valid (RFC 4514): ${why}`);
  if (dn.length > 4096) throw bad('too long');
  const rdns: ParsedDnAttribute[][] = [];
  let rdn: ParsedDnAttribute[] = [];
  let i = 0;
  const skipSpaces = () => {
    while (dn[i] === ' ') i++;
  };
  if (dn.trim() === '') return [];
  for (;;) {
    skipSpaces();
    // attributeType = descr / numericoid (RFC 4512 §1.4)
    const typeMatch = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)+)/.exec(dn.slice(i));
    if (!typeMatch) throw bad('an attribute type is expected');
    const type = typeMatch[0];
    i += type.length;
    const oid = /^\d/.test(type) ? type : ATTRIBUTE_TYPES[type.toUpperCase()];
    if (oid === undefined) throw bad(`unknown attribute type ${type}`);
    skipSpaces();
    if (dn[i] !== '=') throw bad("'=' is expected");
    i++;
    skipSpaces();
    let text: string | undefined;
    let hex: string | undefined;
    if (dn[i] === '#') {
      // RFC 4514 §2.4 / §3: hexstring, the BER encoding of the value.
      const m = /^#((?:[0-9A-Fa-f]{2})+)/.exec(dn.slice(i));
      if (!m) throw bad('a #hexstring must hold pairs of hex digits');
      hex = m[1]!.toLowerCase();
      i += m[0].length;
    } else {
      const bytes: number[] = [];
      let trailingUnescapedSpaces = 0;
      while (i < dn.length && dn[i] !== ',' && dn[i] !== '+' && dn[i] !== ';') {
        const c = dn[i]!;
        if (c === '\\') {
          const next = dn[i + 1];
          if (next !== undefined && /[0-9A-Fa-f]/.test(next) && /[0-9A-Fa-f]/.test(dn[i + 2] ?? '')) {
            bytes.push(parseInt(dn.slice(i + 1, i + 3), 16));
            i += 3;
          } else if (next !== undefined && SPECIAL.includes(next)) {
            bytes.push(next.charCodeAt(0));
            i += 2;
          } else {
            throw bad('a backslash must escape a special character or two hex digits');
          }
          trailingUnescapedSpaces = 0;
          continue;
        }
        if (c === '"' || c === '<' || c === '>') throw bad(`'${c}' must be escaped`);
        const encoded = Buffer.from(c, 'utf8');
        bytes.push(...encoded);
        trailingUnescapedSpaces = c === ' ' ? trailingUnescapedSpaces + 1 : 0;
        i++;
      }
      text = Buffer.from(bytes.slice(0, bytes.length - trailingUnescapedSpaces)).toString('utf8');
    }
    rdn.push({ oid, text, hex });
    skipSpaces();
    if (i >= dn.length) {
      rdns.push(rdn);
      return rdns;
    }
    const sep = dn[i]!;
    i++;
    if (sep === '+') continue;
    // ',' separates RDNs; ';' is the RFC 1779 form, still accepted by most readers.
    rdns.push(rdn);
    rdn = [];
  }
}

/** RFC 4518-style preparation for caseIgnoreMatch: NFKC, case folded, insignificant spaces removed. */
function prepare(text: string): string {
  return text.normalize('NFKC').toLowerCase().trim().replace(/\s+/g, ' ');
}

function attributeMatches(want: ParsedDnAttribute, have: DnAttribute): boolean {
  if (want.oid !== have.oid) return false;
  if (want.hex !== undefined) return want.hex === have.hex;
  return have.text !== undefined && want.text !== undefined && prepare(want.text) === prepare(have.text);
}

/**
 * RFC 8705 §2.1.2 with RFC 4514: whether the certificate subject (ASN.1 order) is the DN the
 * client registered as a string. Same number of RDNs; each RDN the same set of attributes (types by
 * OID, so "CN" and "2.5.4.3" agree; string values compared case-insensitively after whitespace
 * normalisation; #hex values by their encoding).
 * @throws InvalidRequest when `registered` is not an RFC 4514 DN
 */
export function subjectDnMatches(registered: string, subject: DistinguishedName): boolean {
  // RFC 4514 §2.1: the string starts with the LAST RDN of the sequence.
  const want = parseRfc4514Dn(registered).reverse();
  if (want.length === 0 || want.length !== subject.length) return false;
  return want.every((rdn, k) => {
    const have = subject[k]!;
    if (rdn.length !== have.length) return false;
    const used = new Set<number>();
    return rdn.every((attr) => {
      const j = have.findIndex((h, idx) => !used.has(idx) && attributeMatches(attr, h));
      if (j < 0) return false;
      used.add(j);
      return true;
    });
  });
}

/** Canonical text of an IP address (IPv4 dotted, IPv6 compressed lower case), or undefined. */
function canonicalIp(text: string): string | undefined {
  const v6 = text.includes(':');
  try {
    const host = new URL(v6 ? `http://[${text}]/` : `http://${text}/`).hostname;
    if (v6) return host;
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(text) && host === text ? host : undefined;
  } catch {
    return undefined;
  }
}

function ipBytesText(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: string[] = [];
  for (let k = 0; k < 16; k += 2) groups.push(((bytes[k]! << 8) | bytes[k + 1]!).toString(16));
  return canonicalIp(groups.join(':'));
}

function emailMatches(want: string, have: string): boolean {
  // RFC 5321 §2.4: the local part is case-sensitive, the domain is not.
  const a = want.lastIndexOf('@');
  const b = have.lastIndexOf('@');
  if (a < 1 || b < 1) return false;
  return want.slice(0, a) === have.slice(0, b) && want.slice(a + 1).toLowerCase() === have.slice(b + 1).toLowerCase();
}

/**
 * RFC 8705 §2.1.2: whether the certificate carries the one value the client registered.
 * dNSName compares case-insensitively (no wildcard expansion); URI exactly; iPAddress by address
 * (so "::1" and "0:0::1" agree); rfc822Name with a case-insensitive domain.
 */
export function tlsClientAuthMatches(expected: TlsClientAuthExpectation, identity: CertificateIdentity): boolean {
  switch (expected.name) {
    case 'tls_client_auth_subject_dn':
      return subjectDnMatches(expected.value, identity.subject);
    case 'tls_client_auth_san_dns':
      return identity.sanDns.some((d) => d.toLowerCase() === expected.value.toLowerCase());
    case 'tls_client_auth_san_uri':
      return identity.sanUri.some((u) => u === expected.value);
    case 'tls_client_auth_san_ip': {
      const want = canonicalIp(expected.value);
      return want !== undefined && identity.sanIp.some((b) => ipBytesText(b) === want);
    }
    case 'tls_client_auth_san_email':
      return identity.sanEmail.some((e) => emailMatches(expected.value, e));
  }
}

/**
 * RFC 8705 §2.1.2: the one expected value a tls_client_auth client registers. Exactly one of the
 * five metadata may be set; each must be a valid value of its kind.
 * @returns the expectation, or undefined when none is set
 * @throws InvalidRequest naming the problem (the caller maps it to invalid_client_metadata)
 */
export function tlsClientAuthExpectation(metadata: Partial<Record<TlsClientAuthMetadataName, string>>): TlsClientAuthExpectation | undefined {
  const set = TLS_CLIENT_AUTH_METADATA.filter((n) => (metadata[n] ?? '') !== '');
  // RFC 8705 §2.1.2: "A client using tls_client_auth MUST use exactly one of the below metadata parameters".
  if (set.length > 1) throw new InvalidRequest(`only one of ${TLS_CLIENT_AUTH_METADATA.join(', ')} may be set`);
  if (set.length === 0) return undefined;
  const name = set[0]!;
  const value = metadata[name]!;
  if (value.length > 1024 || [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) throw new InvalidRequest(`${name} must be at most 1024 characters without control characters`);
  switch (name) {
    case 'tls_client_auth_subject_dn':
      if (parseRfc4514Dn(value).length === 0) throw new InvalidRequest('tls_client_auth_subject_dn must not be empty');
      break;
    case 'tls_client_auth_san_dns':
      if (!/^[A-Za-z0-9*](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/.test(value)) throw new InvalidRequest('tls_client_auth_san_dns must be a DNS name');
      break;
    case 'tls_client_auth_san_uri':
      if (!URL.canParse(value) || /\s/.test(value)) throw new InvalidRequest('tls_client_auth_san_uri must be an absolute URI');
      break;
    case 'tls_client_auth_san_ip':
      if (canonicalIp(value) === undefined) throw new InvalidRequest('tls_client_auth_san_ip must be an IPv4 or IPv6 address');
      break;
    case 'tls_client_auth_san_email':
      if (!/^[^\s@]+@[^\s@]+$/.test(value)) throw new InvalidRequest('tls_client_auth_san_email must be an email address');
      break;
  }
  return { name, value };
}

// ---------------------------------------------------------------------------------------------
// Certificates as keys.

/** RFC 8705 §3.1: x5t#S256, the base64url SHA-256 of the DER certificate (43 characters). */
export function certificateThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** RFC 8705 §3.1: whether a cnf.x5t#S256 value has the right shape. */
export function isCertificateThumbprint(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/**
 * RFC 8705 §2.2: self_signed_tls_client_auth. The certificate's public key must be one of the
 * client's registered JWKS keys (compared as SubjectPublicKeyInfo), or the JWK's x5c must hold the
 * certificate itself. No chain is built: the client registered the key itself.
 */
export function selfSignedCertificateMatches(der: Uint8Array, jwks: { keys?: unknown } | undefined): boolean {
  const keys = Array.isArray(jwks?.keys) ? jwks.keys : [];
  let certKey: Buffer;
  try {
    certKey = spki(new X509Certificate(der).publicKey);
  } catch {
    return false;
  }
  const derB64 = Buffer.from(der).toString('base64');
  return keys.some((jwk: unknown) => {
    if (jwk === null || typeof jwk !== 'object') return false;
    const x5c = (jwk as { x5c?: unknown }).x5c;
    if (Array.isArray(x5c) && x5c[0] === derB64) return true;
    try {
      // Only the public members: createPublicKey ignores nothing it is given, so strip the rest.
      const { kty, crv, x, y, n, e } = jwk as Record<string, unknown>;
      const key = createPublicKey({ key: JSON.parse(JSON.stringify({ kty, crv, x, y, n, e })) as JsonWebKey, format: 'jwk' });
      return spki(key).equals(certKey);
    } catch {
      return false;
    }
  });
}

const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';
const ANY_EKU = '2.5.29.37.0';

function validAt(cert: X509Certificate, now: Date): boolean {
  const t = now.getTime();
  return new Date(cert.validFrom).getTime() <= t && t <= new Date(cert.validTo).getTime();
}

/**
 * RFC 8705 §2.1: a tls_client_auth certificate must chain to a trusted CA (PKI mutual TLS). Builds
 * a path leaf → intermediates (from `chain`) → one of `anchors`: each link issued (name and key
 * identifiers, X509Certificate.checkIssued) and signed by the next, every certificate valid at
 * `now`, issuers marked CA, at most MAX_CHAIN_LENGTH links. A leaf whose extended key usage is
 * present must allow clientAuth (RFC 5280 §4.2.1.12).
 */
export function chainIsTrusted(leafDer: Uint8Array, chainDer: readonly Uint8Array[], anchors: readonly X509Certificate[], now: Date): boolean {
  let leaf: X509Certificate;
  let chain: X509Certificate[];
  try {
    leaf = new X509Certificate(leafDer);
    chain = chainDer.slice(0, MAX_CHAIN_LENGTH).map((d) => new X509Certificate(d));
  } catch {
    return false;
  }
  if (!validAt(leaf, now)) return false;
  // Node 20 names the extended key usages keyUsage; later versions also extKeyUsage.
  const eku = (leaf as X509Certificate & { extKeyUsage?: string[] }).extKeyUsage ?? leaf.keyUsage;
  if (eku !== undefined && eku.length > 0 && !eku.includes(CLIENT_AUTH_EKU) && !eku.includes(ANY_EKU)) return false;
  const issuedBy = (child: X509Certificate, parent: X509Certificate) => {
    try {
      return parent.ca && validAt(parent, now) && child.checkIssued(parent) && child.verify(parent.publicKey);
    } catch {
      return false;
    }
  };
  let current = leaf;
  const used = new Set<number>();
  for (let depth = 0; depth <= MAX_CHAIN_LENGTH; depth++) {
    if (anchors.some((a) => issuedBy(current, a) || (current.raw.equals(a.raw) && depth > 0))) return true;
    const next = chain.findIndex((c, k) => !used.has(k) && !c.raw.equals(current.raw) && issuedBy(current, c));
    if (next < 0) return false;
    used.add(next);
    current = chain[next]!;
  }
  return false;
}

/** Splits a PEM bundle into DER certificates (RFC 7468 §5). */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  const re = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;
  for (const m of pem.matchAll(re)) out.push(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'));
  return out;
}

/**
 * RFC 8705 §3 with RFC 8693 §5: a certificate-bound token the client itself holds (issued to it,
 * or its actor token) is exchanged only over mutual TLS with that certificate; otherwise a stolen
 * bound token could be traded for one bound to nothing (or to the thief's certificate). A bound
 * token merely addressed to the client (a resource server exchanging what it was called with) was
 * presented to that client with its certificate already, and needs none.
 * @throws InvalidRequest naming the token whose certificate is missing
 */
export function assertExchangeCertificate(input: {
  clientId: string;
  subject: Pick<AccessTokenClaims, 'client_id' | 'cnf'>;
  actor?: Pick<AccessTokenClaims, 'cnf'> | undefined;
  /** x5t#S256 of the token request's client certificate, undefined without mutual TLS. */
  presentedThumbprint: string | undefined;
}): void {
  const own = input.subject.client_id === input.clientId ? input.subject.cnf?.['x5t#S256'] : undefined;
  for (const [what, bound] of [['subject_token', own], ['actor_token', input.actor?.cnf?.['x5t#S256']]] as const) {
    if (bound !== undefined && bound !== input.presentedThumbprint) {
      throw new InvalidRequest(`the ${what} is bound to a client certificate this request did not present`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Envoy's x-forwarded-client-cert.

/** The client certificate Envoy forwarded (DER), with the rest of the chain the client sent. */
export interface ForwardedClientCertificate {
  certificate: Buffer;
  chain: Buffer[];
}

/**
 * Reads x-forwarded-client-cert as Envoy writes it with forward_client_cert_details SANITIZE_SET:
 * ONE element of `key=value` pairs separated by ';', values possibly double-quoted, Cert and Chain
 * URL-encoded PEM. Only Cert and Chain are used (Subject/URI/DNS are read from the certificate
 * itself). Returns undefined when the element names no certificate.
 * @throws InvalidRequest for a header with several elements, or an unreadable Cert
 */
export function parseForwardedClientCert(header: string): ForwardedClientCertificate | undefined {
  if (header.length > 65_536) throw new InvalidRequest('x-forwarded-client-cert is too large');
  const pairs: Record<string, string> = {};
  let i = 0;
  while (i < header.length) {
    const eq = header.indexOf('=', i);
    if (eq < 0) throw new InvalidRequest('x-forwarded-client-cert is malformed');
    const key = header.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let value = '';
    if (header[i] === '"') {
      i++;
      while (i < header.length && header[i] !== '"') {
        if (header[i] === '\\' && i + 1 < header.length) i++;
        value += header[i];
        i++;
      }
      if (header[i] !== '"') throw new InvalidRequest('x-forwarded-client-cert is malformed');
      i++;
    } else {
      while (i < header.length && header[i] !== ';' && header[i] !== ',') value += header[i++];
    }
    // Envoy's SANITIZE_SET writes exactly one element: a ',' means someone appended another.
    if (header[i] === ',') throw new InvalidRequest('x-forwarded-client-cert must describe exactly one certificate');
    if (header[i] === ';') i++;
    else if (i < header.length) throw new InvalidRequest('x-forwarded-client-cert is malformed');
    if (key in pairs) throw new InvalidRequest(`x-forwarded-client-cert repeats ${key}`);
    pairs[key] = value;
  }
  if (pairs.cert === undefined) return undefined;
  const decode = (v: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      throw new InvalidRequest('x-forwarded-client-cert is not URL-encoded PEM');
    }
  };
  const certs = pemCertificates(decode(pairs.cert));
  if (certs.length !== 1 || certs[0]!.length > MAX_CERTIFICATE_BYTES) throw new InvalidRequest('x-forwarded-client-cert Cert must hold one certificate');
  // Envoy's Chain holds the whole chain the client sent, the leaf first: keep what follows it.
  const chain = pairs.chain === undefined ? [] : pemCertificates(decode(pairs.chain)).filter((c) => !c.equals(certs[0]!));
  if (chain.length > MAX_CHAIN_LENGTH || chain.some((c) => c.length > MAX_CERTIFICATE_BYTES)) throw new InvalidRequest('x-forwarded-client-cert Chain is too long');
  return { certificate: certs[0]!, chain };
}
