// The grpc-js channel target for one AUTHMESH_<SVC>_ADDR value: one `host:port`, or the
// service's instances as a comma-separated list. grpc-js balances (round_robin, see client.ts)
// over whatever the target resolves to:
// - one entry: the entry itself (grpc-js's dns resolver; a name with several A records is
//   balanced over them), exactly as before lists existed;
// - IP literals only: grpc-js's own `ipv4:`/`ipv6:` list targets;
// - a list with names: the `authmesh-peers:` resolver below, which looks every name up and hands
//   grpc-js the union, again on each re-resolution grpc-js asks for (an instance that failed).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { status } from '@grpc/grpc-js';
import { experimental } from '@grpc/grpc-js';

const SCHEME = 'authmesh-peers';
// grpc-js asks again whenever a connection fails; one lookup per second at most.
const MIN_RESOLVE_INTERVAL_MS = 1_000;

interface Entry {
  host: string;
  port: number;
}

/** Splits `host:port` / `[v6]:port` (validated by the config already). */
function parseEntry(entry: string): Entry {
  const at = entry.lastIndexOf(':');
  const host = entry.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  return { host, port: Number(entry.slice(at + 1)) };
}

/**
 * The grpc-js target for an address or a list of addresses.
 *
 * @param address `host:port` or `host:port,host:port…` (IPv6 in brackets), as config normalises it.
 * @returns a target string grpc-js can dial: the address itself, `ipv4:a:p,b:q`, `ipv6:[a]:p,…`
 *   or `authmesh-peers:///a:p,b:q`.
 */
export function channelTarget(address: string): string {
  const entries = address.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length <= 1) return address;
  const families = new Set(entries.map((e) => isIP(parseEntry(e).host)));
  if (families.size === 1 && families.has(4)) return `ipv4:${entries.join(',')}`;
  if (families.size === 1 && families.has(6)) return `ipv6:${entries.join(',')}`;
  registerPeersResolver();
  return `${SCHEME}:///${entries.join(',')}`;
}

let registered = false;

function registerPeersResolver(): void {
  if (registered) return;
  registered = true;
  experimental.registerResolver(SCHEME, PeersResolver);
}

class PeersResolver implements experimental.Resolver {
  private readonly entries: Entry[];
  private running = false;
  private destroyed = false;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    target: { path: string },
    private readonly listener: experimental.ResolverListener,
  ) {
    this.entries = target.path.split(',').filter(Boolean).map(parseEntry);
  }

  static getDefaultAuthority(target: { path: string }): string {
    return target.path.split(',')[0] ?? 'localhost';
  }

  updateResolution(): void {
    this.destroyed = false;
    if (this.running || this.timer) return;
    const wait = this.lastAt + MIN_RESOLVE_INTERVAL_MS - Date.now();
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.resolve();
      }, wait);
      this.timer.unref();
      return;
    }
    this.resolve();
  }

  private resolve(): void {
    this.running = true;
    this.lastAt = Date.now();
    void Promise.allSettled(
      this.entries.map(async (e) => (isIP(e.host) ? [{ host: e.host, port: e.port }] : (await lookup(e.host, { all: true })).map((a) => ({ host: a.address, port: e.port })))),
    ).then((results) => {
      this.running = false;
      if (this.destroyed) return;
      const endpoints = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.map((a) => ({ addresses: [a] })) : []));
      if (endpoints.length > 0) this.listener(experimental.statusOrFromValue(endpoints), {}, null, '');
      else {
        // Names only: an error text may carry the address, and the entries are config, not secrets.
        const names = this.entries.map((e) => e.host).join(', ');
        this.listener(experimental.statusOrFromError({ code: status.UNAVAILABLE, details: `no instance of ${names} resolved` }), {}, null, '');
      }
    });
  }

  destroy(): void {
    this.destroyed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
