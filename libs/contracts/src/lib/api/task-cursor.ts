/**
 * The `cursor` of `GET /api/tasks/`: an opaque position in the list (newest first), the
 * `next_cursor` of the page before. It is the base64url (no padding) of the decimal `id` of the
 * last task of that page; the next page holds the tasks with a smaller `id`. Clients must treat
 * it as opaque: the encoding may change.
 */

/** Largest `BIGINT UNSIGNED`: the bound of `background_tasks.id`. */
const MAX_TASK_ROW_ID = 18_446_744_073_709_551_615n;

/** base64url of at most 20 decimal digits, without padding. */
const CURSOR = /^[A-Za-z0-9_-]{1,27}$/;
const DECIMAL_ID = /^[1-9][0-9]{0,19}$/;

/** The pattern of a well-formed cursor (for schemas; {@link decodeTaskCursor} checks the rest). */
export const TASK_CURSOR_PATTERN = CURSOR;

/** The cursor of the position right after the row `id` (a positive integer, as a string or bigint). */
export function encodeTaskCursor(id: string | bigint): string {
  const decimal = String(id);
  if (!DECIMAL_ID.test(decimal) || BigInt(decimal) > MAX_TASK_ROW_ID) {
    throw new RangeError(`not a task row id: ${decimal}`);
  }
  return Buffer.from(decimal, 'ascii').toString('base64url');
}

/**
 * The row `id` a cursor stands for (decimal string), or null when the cursor is not one this API
 * gave out: not canonical base64url, not a positive decimal, beyond `BIGINT UNSIGNED`.
 */
export function decodeTaskCursor(cursor: unknown): string | null {
  if (typeof cursor !== 'string' || !CURSOR.test(cursor)) {
    return null;
  }
  const bytes = Buffer.from(cursor, 'base64url');
  // Node decodes leniently (stray bits, short tails): only the canonical encoding is accepted.
  if (bytes.toString('base64url') !== cursor) {
    return null;
  }
  const decimal = bytes.toString('latin1');
  if (!DECIMAL_ID.test(decimal) || BigInt(decimal) > MAX_TASK_ROW_ID) {
    return null;
  }
  return decimal;
}
