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

/** True when `error` is transient — the database is down, unreachable or chose this statement as a deadlock victim — as opposed to a bad query. */
export function isDatabaseUnavailable(error: unknown): boolean {
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
