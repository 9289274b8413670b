// `authmesh audit list` and `authmesh audit tail`: the audit trail through
// authmesh.audit.v1.AuditService/ListAuditEvents. `list` pages newest first; `tail` polls with the
// `after` cursor (trailing the last event id seen, tail-cursor.ts), so each event recorded after
// it started is printed once, oldest first, until --limit events or SIGINT/SIGTERM (exit 0).
import type { Command } from 'commander';
import { AuditEvent, ListAuditEventsResponse, type ListAuditEventsRequest } from '../gen/ts/authmesh/audit/v1/audit.js';
import { AuthmeshError } from '../services/core/errors/index.js';
import { connect, describeFailure, EXIT, UsageError, type Connection, type GlobalOptions } from './connection.js';
import { cell, formatTable, printJson, writeOut, type Column, type JsonObject } from './output.js';
import { createTailCursor } from './tail-cursor.js';

/** Largest page the server returns (ListAuditEventsRequest.page_size). */
const MAX_PAGE = 500;
/** Tail polling interval bounds, in seconds. */
const MIN_INTERVAL_S = 0.1;
const MAX_INTERVAL_S = 60;
const DEFAULT_INTERVAL_S = 2;
const MAX_LIMIT = 1_000_000;
/** How long a running tail keeps polling a mesh it cannot reach before it gives up (exit 3). */
const UNREACHABLE_GIVE_UP_MS = 120_000;

const columns: Column[] = [
  { header: 'ID', field: 'eventId' },
  { header: 'TIME', field: 'eventTime' },
  { header: 'TYPE', field: 'type' },
  { header: 'ACTOR', field: 'actor' },
  { header: 'SUBJECT', field: 'subject' },
  { header: 'CLIENT_ID', field: 'clientId' },
  { header: 'IP', field: 'ip' },
  { header: 'DETAILS', field: 'details' },
];

/**
 * --since: an RFC 3339 time (2026-12-01T03:00:00Z) or an age such as 30s, 15m, 2h, 7d.
 * @throws UsageError
 */
export function parseSince(raw: string, now: Date = new Date()): Date {
  const age = /^(\d{1,6})([smhd])$/.exec(raw);
  if (age) return new Date(now.getTime() - Number(age[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[age[2] as 's' | 'm' | 'h' | 'd']);
  // RFC 3339 §5.6 date-time, with its offset required.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/i.test(raw)) {
    const at = new Date(raw);
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new UsageError(`--since must be an RFC 3339 time (e.g. 2026-12-01T03:00:00Z) or an age (30s, 15m, 2h, 7d), got ${JSON.stringify(raw.slice(0, 40))}`);
}

function boundedNumber(raw: string | undefined, flag: string, fallback: number, min: number, max: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${flag} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 20))}`);
  }
  return n;
}

/** The request's filters from the command's flags (the server bounds their lengths). */
function filters(opts: Record<string, unknown>): Pick<ListAuditEventsRequest, 'type' | 'subject' | 'actor' | 'clientId' | 'since'> {
  return {
    type: (opts.type as string | undefined) ?? '',
    subject: (opts.subject as string | undefined) ?? '',
    actor: (opts.actor as string | undefined) ?? '',
    clientId: (opts.client as string | undefined) ?? '',
    since: opts.since === undefined ? undefined : parseSince(opts.since as string),
  };
}

const filterOptions = (c: Command) =>
  c
    .option('--type <type>', 'an event type (client.created), or a prefix ending in "." (client.)')
    .option('--subject <subject>', 'events about this user or resource')
    .option('--actor <actor>', 'events by this actor (an admin token\'s subject)')
    .option('--client <client_id>', 'events about this client')
    .option('--since <time>', 'events at or after an RFC 3339 time, or within an age (30s, 15m, 2h, 7d)');

/** One event as a line for people: time, type, then the fields present; control characters escaped by JSON. */
function eventLine(json: JsonObject): string {
  const parts = [cell(json.eventTime), cell(json.type)];
  for (const [label, field] of [['id', 'eventId'], ['actor', 'actor'], ['subject', 'subject'], ['client_id', 'clientId'], ['ip', 'ip']] as const) {
    if (json[field] !== undefined && json[field] !== '') parts.push(`${label}=${JSON.stringify(json[field]).replace(/^"|"$/g, '')}`);
  }
  if (json.details !== undefined && Object.keys(json.details as object).length > 0) parts.push(JSON.stringify(json.details));
  return parts.join('  ').replace(/\p{Cc}/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Adds `audit list` and `audit tail`; `outcome.status` becomes 0 when a command succeeds. */
export function addAuditCommands(program: Command, outcome: { status: number }): void {
  const audit = program.command('audit').description('the audit trail (security events; never secrets or tokens): list, tail');

  filterOptions(audit.command('list').description('events newest first, with filters'))
    .option('--page-size <n>', `events per page, 1 to ${MAX_PAGE} (server default 50)`)
    .option('--page-token <token>', 'next page of an earlier listing')
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      const request = { ...filters(opts), after: '', pageSize: boundedNumber(opts.pageSize as string | undefined, '--page-size', 0, 1, MAX_PAGE, true), pageToken: (opts.pageToken as string | undefined) ?? '' };
      const conn = connect(opts);
      try {
        const res = await conn.rpc('audit').listAuditEvents(request, { bearer: await conn.bearer() });
        const json = ListAuditEventsResponse.toJSON(res) as JsonObject;
        if (opts.json) printJson(json);
        else writeOut(formatTable((json.events as JsonObject[] | undefined) ?? [], columns) + (res.nextPageToken === '' ? '' : `\n(more: --page-token ${res.nextPageToken})`));
        outcome.status = EXIT.ok;
      } finally {
        conn.close();
      }
    });

  filterOptions(audit.command('tail').description('print events as they are recorded (polling), oldest first, until --limit or Ctrl-C'))
    .option('--interval <seconds>', `seconds between polls, ${MIN_INTERVAL_S} to ${MAX_INTERVAL_S} (default ${DEFAULT_INTERVAL_S})`)
    .option('--limit <n>', 'stop after this many events')
    .addHelpText('after', '\nWithout --since, only events recorded after the tail starts are printed; with it, the earlier ones since then first.\n--json prints one event per line (JSON Lines). SIGINT or SIGTERM ends the tail with exit status 0.')
    .action(async (_opts: unknown, command: Command) => {
      const opts = command.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      const base = filters(opts);
      const intervalMs = Math.round(boundedNumber(opts.interval as string | undefined, '--interval', DEFAULT_INTERVAL_S, MIN_INTERVAL_S, MAX_INTERVAL_S, false) * 1000);
      const limit = boundedNumber(opts.limit as string | undefined, '--limit', Number.POSITIVE_INFINITY, 1, MAX_LIMIT, true);
      const conn = connect(opts);
      let stopped = false;
      let wake: (() => void) | undefined;
      const stop = () => {
        stopped = true;
        wake?.();
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      try {
        await tail(conn, base, intervalMs, limit, opts.json === true, () => stopped, (ms) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, ms);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          }),
        );
        outcome.status = EXIT.ok;
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        conn.close();
      }
    });
}

async function tail(
  conn: Connection,
  base: ReturnType<typeof filters>,
  intervalMs: number,
  limit: number,
  json: boolean,
  stopped: () => boolean,
  sleep: (ms: number) => Promise<void>,
): Promise<void> {
  let renewed = false;
  const call = async (request: ListAuditEventsRequest) => {
    try {
      const res = await conn.rpc('audit').listAuditEvents(request, { bearer: await conn.bearer() });
      renewed = false;
      return res;
    } catch (err) {
      // A token the tool got itself expires during a long tail: get a new one, once per expiry.
      const cause = (err as { cause?: unknown }).cause;
      if (!renewed && cause instanceof AuthmeshError && cause.code === 'invalid_token') {
        renewed = true;
        return conn.rpc('audit').listAuditEvents(request, { bearer: await conn.bearer(true) });
      }
      throw err;
    }
  };
  // The cursor: with --since, from the start of that window; else after the newest matching event now.
  let after = '0';
  if (base.since === undefined) {
    const newest = await call({ ...base, after: '', pageSize: 1, pageToken: '' });
    after = newest.events[0]?.eventId ?? '0';
  }
  // On stderr, so --json's stdout stays one event per line: the tail is now following.
  console.error(`authmesh: following audit events after id ${after} (Ctrl-C to stop)`);
  // Trails the newest id printed, so an event committed after a higher id is still printed once.
  const cursor = createTailCursor(after);
  let printed = 0;
  let unreachablePolls = 0;
  poll: while (!stopped() && printed < limit) {
    // Every event after the cursor, page by page (what was printed since is skipped by id).
    let from = cursor.after;
    for (;;) {
      let res;
      try {
        res = await call({ ...base, after: from, pageSize: MAX_PAGE, pageToken: '' });
      } catch (err) {
        // A mesh that went away (a restart, a failover) is polled again at the interval, with one
        // line when the outage starts, up to UNREACHABLE_GIVE_UP_MS; every other failure ends the tail.
        const failure = describeFailure(err, conn.addr);
        if (failure.status !== EXIT.unreachable || (unreachablePolls + 1) * intervalMs > UNREACHABLE_GIVE_UP_MS) throw err;
        if (unreachablePolls === 0) console.error(`${failure.line}; retrying every ${intervalMs / 1000} s`);
        unreachablePolls++;
        await sleep(intervalMs);
        continue poll;
      }
      if (unreachablePolls > 0) console.error('authmesh: the mesh answers again; following');
      unreachablePolls = 0;
      for (const event of res.events) {
        from = event.eventId;
        if (printed >= limit || stopped()) break;
        if (!cursor.admit(event.eventId, Date.now(), event.eventTime?.getTime())) continue;
        const view = AuditEvent.toJSON(event) as JsonObject;
        writeOut(json ? JSON.stringify(view) : eventLine(view));
        printed++;
      }
      // Between pages too: a catch-up's old events settle at once, so `recent` stays small.
      cursor.settle(Date.now());
      // A full page may have more behind it: read on at once.
      if (res.events.length < MAX_PAGE || printed >= limit || stopped()) break;
    }
    cursor.settle(Date.now());
    if (printed < limit && !stopped()) await sleep(intervalMs);
  }
}
