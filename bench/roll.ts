// `npm run roll` (issue 18): a rolling restart under load with 0 failed requests through Envoy.
// A private stack (scripts/stack.sh on free ports) with two instances of EVERY service and of the
// gateway, so each instance can go while its twin serves; the soak's mixed OAuth traffic through
// Envoy at a fixed rate (soak/driver.ts); `scripts/stack.sh roll` restarts every instance one at
// a time (drain: NOT_SERVING, AUTHMESH_DRAIN_SECONDS still serving, close; start; back in Envoy's
// rotation). Prints the requests, the failures by kind and by instance window (from the moment an
// instance began to drain to the next one's), the roll's duration; exit 1 on any failed request during the roll,
// lost write or broken invariant. Each request is bounded by 10 s (Envoy's route timeout).
// The verdict counts the requests started from the first drain on; those before are the baseline.
//   ROLL_PROFILE   'full' (default: 20 operations/s, 30 s of load before and after the roll) or
//                  'ci' (10/s, 10 s before and 5 s after)
//   ROLL_RATE      override the rate
//   ROLL_JSON      a file for the verdict as JSON
//   ROLL_STACK_DIR, ROLL_KEEP=1   keep the stack directory / leave the stack running
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './processes.js';
import { preparePrivateStack } from './private-stack.js';
import { crashedProcesses, killedOnPurpose, missingWritesInStack, stackProcesses } from './soak/chaos.js';
import { runSoakLoad } from './soak/driver.js';
import { brokenInvariants, soakVerdict, type FaultEvent } from './soak/invariants.js';
import { setUpSoak } from './soak/setup.js';
import { freePortRange } from '../test/support/ports.js';

const log = (line: string) => process.stderr.write(`roll: ${line}\n`);
const ci = process.env.ROLL_PROFILE === 'ci';
const rate = Number(process.env.ROLL_RATE ?? (ci ? 10 : 20));
const beforeMs = (ci ? 10 : 30) * 1000;
const afterMs = (ci ? 5 : 30) * 1000;
if (!(rate > 0 && rate <= 1000)) {
  log('ROLL_RATE must be in (0, 1000]');
  process.exit(2);
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SERVICES = ['client', 'service', 'user', 'key', 'code', 'token', 'refresh-token'];
const stack = await preparePrivateStack({
  ...(process.env.ROLL_STACK_DIR ? { dir: process.env.ROLL_STACK_DIR } : {}),
  keep: process.env.ROLL_KEEP === '1',
  // The seven services' ports, then one replica port for each service and the gateway.
  grpcPorts: 15,
  log,
  env: {
    AUTHMESH_STACK_REPLICAS: [...SERVICES, 'gateway'].map((s) => `${s}=2`).join(' '),
    // 8 first instances and 8 replicas, each with its Prometheus listener.
    AUTHMESH_STACK_METRICS_PORT: String(await freePortRange(16)),
    // Envoy checks health every second and drops a NOT_SERVING instance at the first answer: 3 s
    // of serving after NOT_SERVING covers a check, its jitter and a slow check on two busy cores.
    AUTHMESH_DRAIN_SECONDS: '3',
  },
});

/**
 * Runs `scripts/stack.sh roll`, recording each instance's drain as a window ("roll token-2" from
 * the line "roll: token-2 draining"). Resolves with the windows when the roll ends, rejects when
 * it fails.
 */
function runRoll(events: FaultEvent[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot, 'scripts', 'stack.sh'), ['roll'], { cwd: repoRoot, env: stack.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let buffered = '';
    let tail: string[] = [];
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^stack\.sh: roll: (\S+) draining/.exec(line);
        if (m) {
          events.push({ label: `roll ${m[1]}`, at: Date.now() });
          killedOnPurpose.add(m[1]!);
        }
        if (/^stack\.sh: roll: /.test(line)) log(line.slice('stack.sh: roll: '.length));
        tail = [...tail, line].slice(-30);
      }
    });
    // Bounded: 16 instances at well under a minute each.
    const timer = setTimeout(() => child.kill('SIGTERM'), 20 * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`scripts/stack.sh roll exited ${code ?? signal}:\n${tail.join('\n')}`));
    });
  });
}

let exitCode = 0;
try {
  log(`scripts/stack.sh up in ${stack.dir} (two instances of every service and of the gateway)`);
  await stack.stackSh(['up']);
  const vars = await stack.vars();
  const url = vars.AUTHMESH_URL!;
  const admin = { id: vars.AUTHMESH_CLIENT_ID!, secret: vars.AUTHMESH_CLIENT_SECRET! };
  const target = await setUpSoak(url, admin);
  const before = stackProcesses(stack);
  const events: FaultEvent[] = [];
  let rollDoneAt: number | undefined;
  let rollStartedAt = 0;
  log(`load at ${rate} operations/s: ${beforeMs / 1000} s, the roll, then ${afterMs / 1000} s`);
  const began = Date.now();
  // Each request may take up to 10 s, Envoy's own route timeout for the admin and gRPC routes:
  // while one instance of a service restarts, its twin alone carries the load (on two busy cores,
  // a user creation's scrypt queued behind sign-ins took up to 5 s), which is latency, reported
  // below, not a failure. The soak keeps its 5 s.
  const load = runSoakLoad(target, { rate, timeoutMs: 10_000, done: () => rollDoneAt !== undefined && Date.now() - rollDoneAt >= afterMs });
  const roll = (async () => {
    await sleep(beforeMs);
    rollStartedAt = Date.now();
    try {
      await runRoll(events);
    } finally {
      rollDoneAt = Date.now();
    }
  })();
  const [recorded] = await Promise.all([load, roll]);
  const rollSeconds = ((rollDoneAt ?? rollStartedAt) - rollStartedAt) / 1000;
  // A code or refresh operation that found every one of the driver's browsers busy sent nothing:
  // the load generator's limit, not a request, and not counted as one.
  const notSent = recorded.outcomes.filter((o) => o.failure === 'no_free_browser').length;
  const ledger = { ...recorded, outcomes: recorded.outcomes.filter((o) => o.failure !== 'no_free_browser') };
  // Read back from the store side, past every cache (review F9): the stack's own Postgres.
  const missing = await missingWritesInStack(stack, ledger.acknowledged);
  const after = stackProcesses(stack);
  const verdict = soakVerdict(ledger, events, missing);
  const crashed = crashedProcesses(before, after);
  const broken = [...brokenInvariants(verdict), ...crashed.map((name) => `process ${name} crashed`)];
  // The promise is about the roll: requests started from the first drain to the end of the load.
  // Those before it are the same load without a roll, shown as the baseline (on a loaded machine
  // an ext_authz check can outlast its 250 ms, fail closed, with no roll at all).
  const rollWindows = verdict.windows.filter((w) => w.window !== 'steady');
  const rollRequests = rollWindows.reduce((n, w) => n + w.requests, 0);
  const rollFailed = rollWindows.reduce((n, w) => n + w.failed, 0);
  const baseline = verdict.windows.find((w) => w.window === 'steady');
  if (rollFailed > 0) broken.push(`${rollFailed} failed request(s) through Envoy during the roll`);

  // Latency (ms) of the requests that started before the roll and during it.
  const percentile = (xs: number[], q: number) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!);
  const latency = (from: number, to: number) => {
    const ds = ledger.outcomes.filter((o) => o.startedAt >= from && o.startedAt < to && o.kind !== 'code_replay' && o.kind !== 'refresh_race').map((o) => o.endedAt - o.startedAt);
    return `${percentile(ds, 0.5)} / ${percentile(ds, 0.99)} / ${ds.length === 0 ? 0 : Math.max(...ds)}`;
  };
  const lines = [
    `## Rolling restart: ${events.length} instances, one at a time, in ${rollSeconds.toFixed(0)} s, under ${rate} operations/s through Envoy (${((Date.now() - began) / 1000).toFixed(0)} s of load)`,
    '',
    `**${rollFailed} of ${rollRequests} requests failed during the roll**; before it, the same load without a roll: ${baseline?.failed ?? 0} of ${baseline?.requests ?? 0}.`,
    '',
    `| requests | failed | tokens issued | acknowledged writes lost | processes crashed | not sent (driver's browsers busy) |`,
    '|---|---|---|---|---|---|',
    `| ${verdict.requests} | ${verdict.failed} | ${verdict.tokensIssued} | ${verdict.lostWrites} of ${verdict.acknowledgedWrites} | ${crashed.length === 0 ? 0 : crashed.join(', ')} | ${notSent} |`,
    '',
    `| latency p50 / p99 / max (ms) | before the roll ${latency(began, rollStartedAt)} | during the roll ${latency(rollStartedAt, rollDoneAt ?? Date.now())} |`,
    '|---|---|---|',
    '',
    '| window (from the instance\'s drain) | requests | failed | failures |',
    '|---|---|---|---|',
    ...verdict.windows.map((w) => `| ${w.window === 'steady' ? 'before the roll' : w.window} | ${w.requests} | ${w.failed} | ${Object.entries(w.failures).map(([k, n]) => `${k}: ${n}`).join('; ')} |`),
    '',
    '| operation | requests | failed |',
    '|---|---|---|',
    ...Object.entries(verdict.byKind).map(([k, v]) => `| ${k} | ${v.requests} | ${v.failed} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.ROLL_JSON) writeFileSync(process.env.ROLL_JSON, JSON.stringify({ rate, rollSeconds, verdict, events, crashed, notSent, failures: ledger.outcomes.filter((o) => !o.ok) }, null, 2));
  if (broken.length > 0) {
    log(`broken: ${broken.join('; ')}`);
    exitCode = 1;
  }
} catch (err) {
  log(`failed: ${String((err as Error).stack ?? err)}`);
  exitCode = 1;
} finally {
  await stack.down();
}
process.exit(exitCode);
