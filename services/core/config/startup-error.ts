// Start-up failures, said so that an operator can act on them: what failed, on which path or
// address, the operating system's reason in words (with its errno name), and what to change
// (which AUTHMESH_ variable). A start-up failure is never a wire error: it ends the process
// (see services/main.ts), so it has its own type instead of the OAuth vocabulary.
import { getSystemErrorMap } from 'node:util';

/**
 * Process exit status of a failed start. 2: the configuration or the machine must change
 * (a bad value, an unusable data directory, a port in use, a master key that does not fit);
 * 1: a dependency did not answer (database, Hazelcast) or an unexpected error — retrying later
 * may succeed.
 */
export type StartupExitCode = 1 | 2;

export interface StartupFailure {
  /** What could not be done, with the path or address, e.g. `cannot create the data directory /srv/data`. */
  failed: string;
  /** What to change, naming the AUTHMESH_ variable, e.g. `set AUTHMESH_DATA_DIR to a writable directory`. */
  fix: string;
  exitCode: StartupExitCode;
  /** The underlying error; its errno and message are shown as the reason. */
  cause?: unknown;
  /** The reason in words when there is no underlying error (e.g. `mode 0755 lets other users read it`). */
  reason?: string;
}

export class StartupError extends Error {
  readonly failed: string;
  readonly fix: string;
  readonly exitCode: StartupExitCode;
  readonly reason: string;

  constructor(failure: StartupFailure) {
    const reason = failure.reason ?? describeCause(failure.cause);
    super(`${failure.failed}: ${reason}`, failure.cause === undefined ? undefined : { cause: failure.cause });
    this.name = 'StartupError';
    this.failed = failure.failed;
    this.fix = failure.fix;
    this.exitCode = failure.exitCode;
    this.reason = reason;
  }
}

// Resolver codes are not libuv errors: getSystemErrorMap does not know them.
const EXTRA_ERRNO_WORDS: Record<string, string> = {
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'temporary failure in name resolution',
};

let errnoWords: Map<string, string> | undefined;

/** `EACCES` → `permission denied` (the operating system's words); undefined for an unknown code. */
export function errnoInWords(code: string): string | undefined {
  if (!errnoWords) {
    errnoWords = new Map(Object.entries(EXTRA_ERRNO_WORDS));
    for (const [name, words] of getSystemErrorMap().values()) errnoWords.set(name, words);
  }
  return errnoWords.get(code);
}

function isErrnoName(value: unknown): value is string {
  return typeof value === 'string' && /^E[A-Z0-9_]{2,}$/.test(value) && errnoInWords(value) !== undefined;
}

/** Every error in a cause chain (and an AggregateError's members), outermost first, at most 10. */
function chainOf(err: unknown): unknown[] {
  const out: unknown[] = [];
  const queue = [err];
  while (queue.length > 0 && out.length < 10) {
    const e = queue.shift();
    if (e === undefined || e === null || out.includes(e)) continue;
    out.push(e);
    if (e instanceof AggregateError) queue.push(...e.errors);
    if (e instanceof Error && 'cause' in e) queue.push(e.cause);
  }
  return out;
}

/**
 * The errno name (EACCES, EADDRINUSE, ECONNREFUSED…) found in an error, its causes, or their
 * messages (gRPC and some drivers put it only in the text); undefined when there is none.
 */
export function errnoOf(err: unknown): string | undefined {
  const chain = chainOf(err);
  for (const e of chain) {
    const code = (e as { code?: unknown } | null)?.code;
    if (isErrnoName(code)) return code;
  }
  for (const e of chain) {
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    for (const m of message.matchAll(/\b(E[A-Z0-9_]{2,})\b/g)) if (isErrnoName(m[1])) return m[1];
  }
  return undefined;
}

/**
 * The reason an error gives, for a person: `EACCES (permission denied)` followed by the
 * innermost error's message when it says more than the errno. Messages are single-lined.
 */
export function describeCause(err: unknown): string {
  if (err === undefined) return 'unknown reason';
  const chain = chainOf(err);
  const errno = errnoOf(err);
  const messages = chain
    .map((e) => (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim())
    .filter((m) => m !== '');
  // The innermost message is the most specific; outer ones usually only wrap it.
  const detail = messages.at(-1) ?? '';
  if (errno === undefined) return detail === '' ? 'unknown reason' : messages.join(': caused by: ');
  const words = `${errno} (${errnoInWords(errno)})`;
  return detail === '' ? words : `${words}: ${detail}`;
}

/**
 * The lines main prints on stderr for a failed start, and its exit status. A StartupError says
 * what failed, why and what to do; anything else is unexpected and shown with its whole cause
 * chain, never as a sentence that hides it.
 */
export function formatStartupFailure(err: unknown): { text: string; exitCode: StartupExitCode } {
  if (err instanceof StartupError) {
    return { text: `authmesh failed to start: ${err.failed}\n  reason: ${err.reason}\n  fix: ${err.fix}`, exitCode: err.exitCode };
  }
  return { text: `authmesh failed to start: ${describeCause(err)}`, exitCode: 1 };
}
