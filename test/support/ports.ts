// A free loopback TCP port, for servers a test starts with a port it must know in advance (an
// issuer URL, Envoy's config, a database on its own port).
//
// The port comes from below the kernel's ephemeral range (net.ipv4.ip_local_port_range). A port
// from listen(0) is an ephemeral one, and between handing it out and the server binding it
// (seconds, for a mesh or an Envoy) any outgoing connection on the machine may take it as its
// local port: the later bind then fails with EADDRINUSE. Ports below the range are never handed
// to outgoing connections, so only another test picking the same number can collide, and each
// worker starts at its own random place in a window of thousands and checks the port by binding.
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const WINDOW_LOW = 10_000;

function ephemeralLow(): number {
  try {
    const [low] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low)) return low;
  } catch {
    // not Linux: IANA's dynamic range
  }
  return 49_152;
}

const windowHigh = ephemeralLow() - 1;
const windowSize = windowHigh - WINDOW_LOW + 1;
let next = WINDOW_LOW + Math.floor(Math.random() * Math.max(windowSize, 1));
const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function anyPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      srv.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function freePort(): Promise<number> {
  // A machine whose ephemeral range starts too low to leave a window: take what the kernel gives.
  if (windowSize < 1_000) return anyPort();
  for (let i = 0; i < 500; i++) {
    const port = next;
    next = next >= windowHigh ? WINDOW_LOW : next + 1;
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port in ${WINDOW_LOW}-${windowHigh}`);
}

/**
 * The first of `count` consecutive free loopback ports, for servers that take a base port and
 * count up from it (Hazelcast members, scripts/stack.sh's services).
 */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = await freePort();
    let ok = base + count - 1 <= (windowSize < 1_000 ? 65_535 : windowHigh);
    for (let port = base + 1; ok && port < base + count; port++) ok = !handedOut.has(port) && (await canBind(port));
    if (ok) {
      for (let port = base + 1; port < base + count; port++) handedOut.add(port);
      return base;
    }
  }
  throw new Error(`no ${count} consecutive free ports`);
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` now. */
export function isListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
