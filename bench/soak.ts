// `npm run soak` (issue 18): the stack mode behind Envoy (two instances of token and gateway, one
// of each other service, Postgres, two Hazelcast members), in a private directory on free ports,
// under a realistic mix at a fixed rate (soak/driver.ts) while faults are injected one at a time
// (soak/chaos.ts); then the invariants as numbers (soak/invariants.ts), failed requests by kind
// and fault window with the time to recover, RSS of every process at start and end, and the
// processes that crashed. Exit 1 when an invariant is broken or a process crashed.
//   SOAK_PROFILE   'full' (default: 600 s at 25 operations/s) or 'ci' (120 s at 12/s)
//   SOAK_SECONDS, SOAK_RATE   override the profile
//   SOAK_CHAOS     0 for the load without faults
//   SOAK_JSON      a file for the verdict as JSON
//   SOAK_STACK_DIR, SOAK_KEEP=1   keep the stack directory / leave the stack running
import { writeFileSync } from 'node:fs';
import { preparePrivateStack } from './private-stack.js';
import { crashedProcesses, faultSchedule, runChaos, missingWritesInStack, stackProcesses } from './soak/chaos.js';
import { runSoakLoad } from './soak/driver.js';
import { edgeDiagnostics, edgeDiagnosticsReport } from './soak/edge-diagnostics.js';
import { brokenInvariants, soakVerdict, type FaultEvent } from './soak/invariants.js';
import { setUpSoak } from './soak/setup.js';

const log = (line: string) => process.stderr.write(`soak: ${line}\n`);
const ci = process.env.SOAK_PROFILE === 'ci';
const seconds = Number(process.env.SOAK_SECONDS ?? (ci ? 120 : 600));
const rate = Number(process.env.SOAK_RATE ?? (ci ? 12 : 25));
if (!(seconds > 0 && seconds <= 7200 && rate > 0 && rate <= 1000)) {
  log('SOAK_SECONDS must be in (0, 7200] and SOAK_RATE in (0, 1000]');
  process.exit(2);
}
const chaos = process.env.SOAK_CHAOS !== '0';
const durationMs = seconds * 1000;

const stack = await preparePrivateStack({
  ...(process.env.SOAK_STACK_DIR ? { dir: process.env.SOAK_STACK_DIR } : {}),
  keep: process.env.SOAK_KEEP === '1',
  grpcPorts: 9,
  log,
  env: { AUTHMESH_STACK_REPLICAS: 'token=2 gateway=2' },
});
let exitCode = 0;
try {
  log(`scripts/stack.sh up in ${stack.dir} (two token and two gateway instances)`);
  await stack.stackSh(['up']);
  const vars = await stack.vars();
  const url = vars.AUTHMESH_URL!;
  const admin = { id: vars.AUTHMESH_CLIENT_ID!, secret: vars.AUTHMESH_CLIENT_SECRET! };
  const target = await setUpSoak(url, admin);
  const before = stackProcesses(stack);
  log(`${seconds} s at ${rate} operations/s${chaos ? ', with faults' : ', no faults'}`);
  const began = Date.now();
  // The load runs its time, and on until 10 s after the last fault was undone, so every fault's
  // recovery is measured under load.
  let chaosDoneAt: number | undefined = chaos ? undefined : began;
  const faultsRun = chaos ? runChaos(stack, faultSchedule(durationMs), began, durationMs, log) : Promise.resolve([] as FaultEvent[]);
  void faultsRun.finally(() => (chaosDoneAt = Date.now()));
  const [ledger, faults] = await Promise.all([
    runSoakLoad(target, { rate, done: (elapsed) => elapsed >= durationMs && chaosDoneAt !== undefined && Date.now() - chaosDoneAt >= 10_000 }),
    faultsRun,
  ]);
  // Read back from the store side, past every cache (review F9): the stack's own Postgres.
  const missing = await missingWritesInStack(stack, ledger.acknowledged);
  const after = stackProcesses(stack);
  const verdict = soakVerdict(ledger, faults, missing);
  const crashed = crashedProcesses(before, after);
  // Why each protected request failed: Envoy's access log and counters, the token service's log.
  const edge = await edgeDiagnostics(stack.dir, vars.AUTHMESH_ENVOY_ADMIN_PORT ?? stack.env.AUTHMESH_ENVOY_ADMIN_PORT, faults, began);
  const broken = [...brokenInvariants(verdict), ...crashed.map((name) => `process ${name} crashed`)];

  const lines = [
    `## Soak: ${seconds} s at ${rate} operations/s through Envoy, ${chaos ? `${faults.length} faults` : 'no faults'}`,
    '',
    '| invariant | value |',
    '|---|---|',
    `| acknowledged writes lost | ${verdict.lostWrites} of ${verdict.acknowledgedWrites} |`,
    `| codes redeemed twice | ${verdict.codesRedeemedTwice} |`,
    `| refresh tokens rotated twice | ${verdict.refreshRotatedTwice} |`,
    `| tokens accepted after their revocation was acknowledged | ${verdict.acceptedAfterRevocation} |`,
    `| processes crashed (not killed on purpose) | ${crashed.length === 0 ? 0 : crashed.join(', ')} |`,
    `| requests | ${verdict.requests} (${verdict.failed} failed), ${verdict.tokensIssued} tokens issued |`,
    '',
    '| window | requests | failed | time to recover | failures |',
    '|---|---|---|---|---|',
    ...verdict.windows.map((w) => `| ${w.window} | ${w.requests} | ${w.failed} | ${w.window === 'steady' ? '' : `${(w.recoveryMs / 1000).toFixed(1)} s`} | ${Object.entries(w.failures).map(([k, n]) => `${k}: ${n}`).join('; ')} |`),
    '',
    '| operation | requests | failed |',
    '|---|---|---|',
    ...Object.entries(verdict.byKind).map(([k, v]) => `| ${k} | ${v.requests} | ${v.failed} |`),
    '',
    '| process | RSS at start (MiB) | RSS at end (MiB) |',
    '|---|---|---|',
    ...[...before].map(([name, p]) => `| ${name} | ${(p.rssKiB / 1024).toFixed(0)} | ${after.has(name) ? (after.get(name)!.rssKiB / 1024).toFixed(0) : 'gone'} |`),
    ...edgeDiagnosticsReport(edge),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (process.env.SOAK_JSON) writeFileSync(process.env.SOAK_JSON, JSON.stringify({ seconds, rate, verdict, faults, crashed, edge, rss: { before: Object.fromEntries(before), after: Object.fromEntries(after) } }, null, 2));
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
