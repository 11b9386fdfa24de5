import { TasklaneError } from '@tasklane/concurrency';

/**
 * Error codes (Node sockets and mysql2) meaning "the database cannot do this right now; the same
 * statement may succeed later": unreachable, shutting down, or a lock conflict it resolved by
 * rolling this statement back (a deadlock victim, a lock wait timeout).
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_QUERY_INTERRUPTED',
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) {
    return undefined;
  }
  const record = error as { code?: unknown; driverError?: { code?: unknown } };
  const code = record.code ?? record.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * The database cannot do this now — down, unreachable, shutting down, or it rolled the statement
 * back as a deadlock victim — and the same operation may succeed later. Raised at the persistence
 * boundary (every repository, the migrator) in place of the driver's error, which is its `cause`;
 * `code` is the driver's code (`ECONNREFUSED`, `ER_LOCK_DEADLOCK`…).
 */
export class DatabaseUnavailableError extends TasklaneError {
  readonly transient = true;
  readonly code: string | undefined;

  constructor(cause: unknown) {
    super(`the database is unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.code = codeOf(cause);
  }
}

/** True when `error` is transient — the database is down, unreachable or chose this statement as a deadlock victim — as opposed to a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) {
    return true;
  }
  const code = codeOf(error);
  if (code !== undefined && UNAVAILABLE_CODES.has(code)) {
    return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /Pool is closed|Connection lost|connect ETIMEDOUT|Can't add new command when connection is in closed state/i.test(
    message,
  );
}

export function isUnknownDatabase(error: unknown): boolean {
  return codeOf(error) === 'ER_BAD_DB_ERROR';
}

/** True when the database rolled the statement (and its transaction) back as a deadlock victim. */
export function isDeadlock(error: unknown): boolean {
  return codeOf(error) === 'ER_LOCK_DEADLOCK';
}

/** True when a statement broke a unique key (`ER_DUP_ENTRY`): a concurrent writer took it first. */
export function isDuplicateEntry(error: unknown): boolean {
  return codeOf(error) === 'ER_DUP_ENTRY';
}

/** `error` as raised at the persistence boundary: a transient driver failure becomes a {@link DatabaseUnavailableError}. */
export function toDatabaseError(error: unknown): unknown {
  // Tasklane's own errors (a broker's, passed through a callback) are already what they say.
  return error instanceof TasklaneError || !isDatabaseUnavailable(error) ? error : new DatabaseUnavailableError(error);
}

/** Runs `operation`, raising its transient driver failures as {@link DatabaseUnavailableError}. */
export async function atDatabaseBoundary<T>(operation: () => Promise<T> | T): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw toDatabaseError(error);
  }
}

/**
 * Marks a class as the persistence boundary: each of its methods raises transient driver failures
 * as {@link DatabaseUnavailableError} (callers test for the type, never for driver codes). Every
 * method becomes asynchronous — a repository's are already.
 */
export function DatabaseBoundary(): ClassDecorator {
  return (target) => {
    const prototype = (target as unknown as { prototype: Record<string, unknown> }).prototype;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
      if (key === 'constructor' || descriptor === undefined || typeof descriptor.value !== 'function') {
        continue;
      }
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(prototype, key, {
        ...descriptor,
        value: function atBoundary(this: unknown, ...args: unknown[]) {
          return atDatabaseBoundary(() => method.apply(this, args));
        },
      });
    }
  };
}
