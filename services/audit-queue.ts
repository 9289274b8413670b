// The audit trail is written behind the request, not inside it: a security event must not add a
// database round trip (and on the embedded store, a synchronous WASM insert) to every token
// response. Events queue in memory and one writer drains them in order. The queue is bounded: if
// the store is down longer than the queue lasts, the oldest events are dropped and the drop is
// logged (the request path never blocks on the audit). close() drains what is left.
//
// Success events of the hot paths (SUCCESS_AUDIT_EVENTS) are filtered here by
// AUTHMESH_AUDIT_SUCCESS: even batched, one row per issued token was a write for every token
// (on the embedded store, WASM work on the main thread that grew with the table). Every other
// event (failures, replays, revocations, admin changes, logins) is always queued.
import type { AuditSuccess } from './core/config/index.js';
import type { Logger } from './core/log/index.js';
import type { AuditStore, NewAuditEvent } from './core/store/index.js';

/**
 * The high-volume success events AUTHMESH_AUDIT_SUCCESS governs: an access token issued by a
 * grant (client_credentials, authorization_code, refresh_token, password) and an authorization
 * code redeemed at the token endpoint (its single use is enforced by the grid, not by this row).
 * A token exchange (token.exchanged, a delegation), a code issued after the user's consent
 * (code.issued), logins, and every failure or security event are not in this list.
 */
export const SUCCESS_AUDIT_EVENTS: ReadonlySet<string> = new Set(['token.issued', 'code.redeemed']);
/** With AUTHMESH_AUDIT_SUCCESS=sampled, one success event in this many is written. */
export const AUDIT_SUCCESS_SAMPLE_RATE = 100;

export interface AuditQueue {
  push(event: NewAuditEvent): void;
  /** Resolves when everything pushed so far has been written (or given up on). */
  flush(): Promise<void>;
  close(): Promise<void>;
  /** Events queued and not yet written (the authmesh_audit_queue_depth_events gauge). */
  readonly depth: number;
}

// One statement per batch: on the embedded store each insert is a synchronous WASM call, so
// batching is most of the audit trail's cost under load.
const BATCH = 200;

export function createAuditQueue(
  store: Pick<AuditStore, 'append'> & Partial<Pick<AuditStore, 'appendMany'>>,
  log: Logger,
  options: { max?: number; retryMs?: number; success?: AuditSuccess } = {},
): AuditQueue {
  const max = options.max ?? 10_000;
  const success = options.success ?? 'all';
  let successSeen = 0;
  const retryMs = options.retryMs ?? 1_000;
  const queue: NewAuditEvent[] = [];
  let dropped = 0;
  let draining: Promise<void> | undefined;
  let closed = false;

  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue.splice(0, store.appendMany ? BATCH : 1);
      try {
        if (store.appendMany) await store.appendMany(batch);
        else await store.append(batch[0]!);
      } catch (err) {
        if (closed) {
          log.error({ err, pending: queue.length }, 'audit events could not be written before shutdown');
          queue.length = 0;
          return;
        }
        log.error({ err, events: batch.length, pending: queue.length }, 'audit events could not be recorded; retrying');
        queue.unshift(...batch);
        await new Promise((r) => setTimeout(r, retryMs).unref());
      }
      if (dropped > 0) {
        log.warn({ dropped }, 'audit queue was full: oldest events dropped');
        dropped = 0;
      }
    }
  }

  const kick = () => {
    draining ??= drain().finally(() => {
      draining = undefined;
      if (queue.length > 0 && !closed) kick();
    });
    return draining;
  };

  return {
    push(event) {
      if (success !== 'all' && SUCCESS_AUDIT_EVENTS.has(event.type)) {
        if (success === 'off') return;
        // Deterministic one-in-N per process: the rows say how many each one stands for.
        if (successSeen++ % AUDIT_SUCCESS_SAMPLE_RATE !== 0) return;
        event = { ...event, details: { ...event.details, sampled_one_in: AUDIT_SUCCESS_SAMPLE_RATE } };
      }
      if (queue.length >= max) {
        queue.shift();
        dropped += 1;
      }
      queue.push({ at: new Date(), ...event });
      void kick();
    },
    async flush() {
      while (queue.length > 0 || draining) await (draining ?? kick());
    },
    async close() {
      closed = true;
      await this.flush();
    },
    get depth() {
      return queue.length;
    },
  };
}
