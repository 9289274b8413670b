// The fuzz suites' harness: the real mesh and gateway on loopback with their log lines captured,
// the gateway's route table as registered, loopback HTTP clients (structured and raw bytes), a
// bounded concurrent runner, the verdict on each answer, and the after-run checks (memory, logs).
import http from 'node:http';
import net from 'node:net';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ALL_ROUTES } from '../../gateway/index.js';
import type { RouteModule } from '../../gateway/index.js';
import { createLogger } from '../../services/core/log/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { knownFailureFor, type Finding } from './known-failures.js';
import { fuzzProfile, runSeed, type FuzzProfile } from './prng.js';

export interface RecordedRoute {
  url: string;
  methods: string[];
}

export interface FuzzServer {
  t: TestGateway;
  host: string;
  port: number;
  /** Every log line the mesh and the gateway wrote (pino JSON), plus console output of the run. */
  logs: string[];
  /** The gateway's route table, as fastify registered it (URL → methods). */
  routes: RecordedRoute[];
  profile: FuzzProfile;
  seed: number;
  close(): Promise<void>;
}

/** Most lines kept; a run that logs more than this is itself a finding (logged but not kept). */
const MAX_LOG_LINES = 400_000;

export async function startFuzzServer(env: Record<string, string> = {}): Promise<FuzzServer> {
  const logs: string[] = [];
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      pending += chunk.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        if (logs.length < MAX_LOG_LINES) logs.push(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
      done();
    },
  });
  // debug, not the default info: a secret must not appear at any level an operator may turn on.
  const log = createLogger({ level: 'debug', destination: sink });
  const byUrl = new Map<string, Set<string>>();
  const recordRoutes: RouteModule = ({ app }) => {
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      const set = byUrl.get(route.url) ?? new Set<string>();
      for (const m of methods) set.add(String(m));
      byUrl.set(route.url, set);
    });
  };
  const t = await startTestGateway(
    {
      // The password grant and CORS are off by default; on here so their code paths are fuzzed too.
      AUTHMESH_PASSWORD_GRANT: 'true',
      AUTHMESH_CORS_ORIGINS: 'https://console.example.com',
      ...env,
    },
    { log, routes: [recordRoutes, ...ALL_ROUTES] },
  );
  const url = new URL(t.baseUrl);
  const profile = fuzzProfile();
  const seed = runSeed(profile);
  console.log(`fuzz: profile=${profile} seed=${seed} (reproduce with AUTHMESH_FUZZ_SEED=${seed} AUTHMESH_FUZZ_PROFILE=${profile})`);
  return {
    t,
    host: url.hostname,
    port: Number(url.port),
    logs,
    routes: [...byUrl].map(([u, m]) => ({ url: u, methods: [...m].sort() })).sort((a, b) => a.url.localeCompare(b.url)),
    profile,
    seed,
    close: () => t.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP clients

export interface HttpCase {
  method: string;
  /** Raw request-target (path and query), sent as given. */
  path: string;
  /** Header lines in order; a name may repeat. Values are latin1 (bytes 0x80-0xff allowed). */
  headers: [string, string][];
  body?: Buffer;
}

export interface HttpAnswer {
  /** 0 when no response came (connection closed or reset before a status line). */
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Why there was no response, or a client-side refusal to send the case. */
  error?: string;
  timedOut?: boolean;
}

const BODY_KEEP = 4096;

/**
 * Sends one case over node:http (keep-alive agent given by the caller), reads at most BODY_KEEP
 * bytes of the answer, never rejects.
 */
export function sendHttp(server: { host: string; port: number }, c: HttpCase, agent: http.Agent, timeoutMs: number, abortAfterMs?: number): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (a: HttpAnswer) => {
      if (!settled) {
        settled = true;
        resolve(a);
      }
    };
    let req: http.ClientRequest;
    try {
      // Raw header arrays keep order and repeats, but node then adds neither Host nor
      // Content-Length: a case without them would only ever meet node's own 400.
      const flat: string[] = [];
      const has = (name: string) => c.headers.some(([k]) => k.toLowerCase() === name);
      if (!has('host')) flat.push('host', `${server.host}:${server.port}`);
      for (const [k, v] of c.headers) flat.push(k, v);
      if (!has('content-length') && !has('transfer-encoding')) flat.push('content-length', String(c.body?.length ?? 0));
      req = http.request({ host: server.host, port: server.port, method: c.method, path: c.path, headers: flat, agent });
    } catch (err) {
      // node refuses to send it (e.g. an invalid header character): not a server answer.
      return done({ status: -1, headers: {}, body: '', error: `client refused: ${(err as Error).message}` });
    }
    const timer = setTimeout(() => {
      req.destroy(new Error('timeout'));
      done({ status: 0, headers: {}, body: '', error: 'timeout', timedOut: true });
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (d: Buffer) => {
        if (size < BODY_KEEP) chunks.push(d);
        size += d.length;
      });
      const finish = () => {
        clearTimeout(timer);
        done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('latin1').slice(0, BODY_KEEP) });
      };
      res.on('end', finish);
      res.on('error', finish);
      res.on('aborted', finish);
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      done({ status: 0, headers: {}, body: '', error: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    if (c.body !== undefined && c.body.length > 0) req.end(c.body);
    else req.end();
    // A client that goes away mid-call (the server must cancel cleanly, not wedge a shared upstream).
    if (abortAfterMs !== undefined) {
      setTimeout(() => {
        req.destroy();
        clearTimeout(timer);
        done({ status: 0, headers: {}, body: '', error: 'aborted by the client' });
      }, abortAfterMs);
    }
  });
}

/**
 * Writes raw bytes on a fresh TCP connection (optionally half-closing after them) and reads the
 * status line of whatever answer comes within timeoutMs. Never rejects.
 */
export function sendRaw(server: { host: string; port: number }, bytes: Buffer, opts: { halfClose: boolean; timeoutMs: number }): Promise<HttpAnswer> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: server.host, port: server.port });
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error?: string, timedOut = false) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      const headerEnd = text.indexOf('\r\n\r\n');
      resolve({ status: m ? Number(m[1]) : 0, headers: {}, body: headerEnd >= 0 ? text.slice(headerEnd + 4, headerEnd + 4 + BODY_KEEP) : '', error: m ? undefined : (error ?? 'closed without a response'), timedOut: timedOut && !m });
    };
    const timer = setTimeout(() => finish('no response in time', true), opts.timeoutMs);
    socket.on('connect', () => {
      socket.write(bytes, () => {
        if (opts.halfClose) socket.end();
      });
    });
    socket.on('data', (d: Buffer) => {
      if (size < BODY_KEEP * 2) chunks.push(d);
      size += d.length;
      // One status line plus headers is all the verdict needs; bodies of several pipelined
      // answers are not parsed.
      const text = Buffer.concat(chunks).toString('latin1');
      if (text.includes('\r\n\r\n') && (size > BODY_KEEP || /content-length: 0\r\n/i.test(text))) finish();
    });
    socket.on('end', () => finish());
    socket.on('close', () => finish());
    socket.on('error', (err) => finish((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

// ---------------------------------------------------------------------------------------------
// Running cases: bounded in count and in time, with a fixed concurrency.

export interface Budget {
  /** Cases to run (upper bound). */
  count: number;
  /** Stop starting new cases after this many ms. */
  timeMs: number;
  concurrency: number;
}

/** Runs fn(0..count-1) with the given concurrency until count or the time budget is spent; returns how many ran. */
export async function runBounded(budget: Budget, fn: (index: number) => Promise<void>): Promise<number> {
  const deadline = Date.now() + budget.timeMs;
  let next = 0;
  let ran = 0;
  const worker = async () => {
    while (next < budget.count && Date.now() < deadline) {
      const i = next++;
      await fn(i);
      ran++;
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, budget.concurrency) }, worker));
  return ran;
}

// ---------------------------------------------------------------------------------------------
// Verdicts

/**
 * A deliberate 503: the RFC 6749 §5.2 temporarily_unavailable error (or Connect's `unavailable`)
 * that the gateway sends when a service is down or it is closing. Any other 5xx is a defect.
 */
export function isDeliberate503(a: HttpAnswer): boolean {
  if (a.status !== 503) return false;
  return /"error"\s*:\s*"temporarily_unavailable"/.test(a.body) || /"code"\s*:\s*"unavailable"/.test(a.body) || /temporarily_unavailable/.test(a.body);
}

/**
 * A 504 deadline_exceeded that the caller asked for: Connect maps its own deadline_exceeded to
 * 504 (connect protocol, "Error Codes"), and a request with connect-timeout-ms: 1 gets exactly
 * that. Deliberate, like a 503; a 504 without a caller deadline is still a defect.
 */
export function isCallerDeadline504(a: HttpAnswer, requestHeaders: [string, string][]): boolean {
  return a.status === 504 && /deadline_exceeded/.test(a.body) && requestHeaders.some(([k]) => ['connect-timeout-ms', 'grpc-timeout'].includes(k.toLowerCase()));
}

/** gRPC status codes that mean "the server failed", not "the request was bad". */
export const GRPC_SERVER_FAULTS: Record<number, string> = { 2: 'UNKNOWN', 13: 'INTERNAL', 15: 'DATA_LOSS' };

/** Collects findings: each is either a known failure class (waiting for a named fix) or new. */
export class Findings {
  readonly all: Finding[] = [];
  private readonly perClass = new Map<string, { count: number; first: Finding; known?: string }>();
  answered = 0;
  noResponse = 0;
  /** How answers were distributed: `suite status` → count (status 0 = no answer, with why). */
  readonly histogram = new Map<string, number>();

  count(key: string): void {
    this.histogram.set(key, (this.histogram.get(key) ?? 0) + 1);
  }

  constructor(readonly seed: number) {}

  add(f: Finding): void {
    this.all.push(f);
    const known = knownFailureFor(f);
    const key = `${f.route} | ${f.status}${known ? ` | known: ${known.id}` : ''}`;
    const entry = this.perClass.get(key);
    if (entry) entry.count++;
    else this.perClass.set(key, { count: 1, first: f, known: known?.id });
  }

  /** New (not known) failure classes, with the first failing input of each, seed included. */
  unexpected(): string[] {
    return [...this.perClass.entries()].filter(([, e]) => e.known === undefined).map(([k, e]) => describe(k, e.count, e.first, this.seed));
  }

  /** Known classes seen in this run, one line each (printed so the lead sees when one can go). */
  knownSeen(): string[] {
    const byId = new Map<string, { count: number; routes: Set<string>; first: Finding }>();
    for (const e of this.perClass.values()) {
      if (e.known === undefined) continue;
      const agg = byId.get(e.known) ?? { count: 0, routes: new Set<string>(), first: e.first };
      agg.count += e.count;
      agg.routes.add(e.first.route);
      byId.set(e.known, agg);
    }
    return [...byId].map(([id, a]) => `${id}: ×${a.count} on ${a.routes.size} route(s); e.g. ${a.first.route} ${a.first.status} (case ${a.first.caseLabel}#${a.first.index}) answer=${JSON.stringify(a.first.detail).slice(0, 160)}`);
  }

  report(title: string): void {
    const known = this.knownSeen();
    const unexpected = this.unexpected();
    console.log(`fuzz ${title}: ${this.answered} answered, ${this.noResponse} without answer (closed/reset), ${this.all.length} findings`);
    if (process.env.AUTHMESH_FUZZ_VERBOSE) for (const [k, n] of [...this.histogram].sort()) console.log(`  ${k}: ${n}`);
    for (const k of known) console.log(`  known (excluded): ${k}`);
    for (const u of unexpected) console.log(`  UNEXPECTED: ${u}`);
  }
}

function describe(key: string, count: number, f: Finding, seed: number): string {
  return `${key} ×${count}; first: case ${f.caseLabel}#${f.index} (AUTHMESH_FUZZ_SEED=${seed}) input=${JSON.stringify(f.input).slice(0, 600)} answer=${JSON.stringify(f.detail).slice(0, 400)}`;
}

// ---------------------------------------------------------------------------------------------
// After the run

let gcFn: (() => void) | undefined;

/** Full GC (exposed through V8 flags at run time) then heapUsed, bytes. */
export async function heapAfterGc(): Promise<number> {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < 3; i++) {
    gcFn();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

/**
 * The secrets of `values` (strings ≥ 12 characters: shorter ones match by chance) that occur in
 * any log line, each with the first line it occurs in (truncated, with the secret masked).
 */
export function secretsInLogs(logs: readonly string[], values: Iterable<string>): string[] {
  const found: string[] = [];
  const candidates = [...new Set(values)].filter((v) => v.length >= 12);
  for (const secret of candidates) {
    // JSON log lines escape some characters: look for both forms.
    const forms = new Set([secret, JSON.stringify(secret).slice(1, -1)]);
    for (const line of logs) {
      if ([...forms].some((f) => line.includes(f))) {
        found.push(`${secret.slice(0, 4)}…(${secret.length} chars) in: ${line.split(secret).join('<SECRET>').slice(0, 300)}`);
        break;
      }
    }
  }
  return found;
}

/** Captures console.error/warn output (connect-fastify reports handler failures there) into logs. */
export function captureConsole(logs: string[]): () => void {
  const orig = { error: console.error, warn: console.warn };
  const capture = (level: string) => (...args: unknown[]) => {
    logs.push(`console.${level}: ${args.map((a) => (a instanceof Error ? `${a.message}\n${a.stack}` : typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
  };
  console.error = capture('error');
  console.warn = capture('warn');
  return () => {
    console.error = orig.error;
    console.warn = orig.warn;
  };
}
