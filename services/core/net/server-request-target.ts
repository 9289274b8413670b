// Server-side request targets (SSRF rules) for requests the server makes to a URL a client
// registered (Back-Channel Logout 1.0 §2.5 deliveries). No I/O: address classification only
// (node:net's BlockList and isIP), shared by registration (services/client) and delivery (services/user).
import { BlockList, isIP } from 'node:net';

const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  // ::/96 covers the unspecified address and the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1).
  ['::', 96],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  BLOCKED.addSubnet(net, prefix, 'ipv6');
}
const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** The IP address a URL hostname names ('127.0.0.1', '[::1]' → '::1'), or undefined for a DNS name. */
export function ipLiteralOf(hostname: string): string | undefined {
  const bare = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) === 0 ? undefined : bare;
}

/**
 * The IPv4 address an IPv4-mapped (::ffff:a.b.c.d or ::ffff:XXXX:YYYY, RFC 4291 §2.5.5.2) or
 * NAT64 (64:ff9b::/96, RFC 6052 §2.1) IPv6 address reaches, else undefined.
 */
function embeddedIpv4(address: string): string | undefined {
  // The WHATWG URL parser gives the canonical compressed form, whichever notation came in.
  let canonical: string;
  try {
    canonical = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const m = /^(::ffff|64:ff9b:):([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!m) return undefined;
  const hi = parseInt(m[2]!, 16);
  const lo = parseInt(m[3]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * Whether a server-side request may connect to an IP address (a string; anything that is not an
 * IP address is refused). Public unicast only: loopback (allowed only when allowLoopback is true,
 * development receivers), private (RFC 1918, fc00::/7), link-local, CGNAT, multicast, reserved,
 * unspecified and IPv4-compatible addresses are refused; IPv4-mapped and NAT64 IPv6 addresses are
 * judged as the IPv4 address they reach.
 */
export function isAllowedTarget(address: string, allowLoopback: boolean): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const a = family === 6 ? (embeddedIpv4(address) ?? address) : address;
  const type = isIP(a) === 4 ? 'ipv4' : 'ipv6';
  if (LOOPBACK.check(a, type)) return allowLoopback;
  return !BLOCKED.check(a, type);
}
