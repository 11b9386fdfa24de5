/**
 * The `cursor` of `GET /api/tasks/`: an opaque position in the list, the `next_cursor` of the page
 * before. The list is newest first by `created_at` — the field clients see — and, among tasks
 * created in the same millisecond, by row id; a position is therefore the pair (created_at, id) of
 * the last task of a page, and the next page holds the tasks after it in that order. Encoded as the
 * base64url (no padding) of `<created_at in epoch ms>.<decimal id>`. Clients must treat it as
 * opaque: the encoding may change.
 */

/** A position in the task list: right after the task created at `createdAtMs` with row `id`. */
export interface TaskListPosition {
  /** `created_at` of that task, in milliseconds since the epoch. */
  createdAtMs: number;
  /** Its row id (`background_tasks.id`), a positive decimal. */
  id: string;
}

/** Largest `BIGINT UNSIGNED`: the bound of `background_tasks.id`. */
const MAX_TASK_ROW_ID = 18_446_744_073_709_551_615n;
/** 9999-12-31T23:59:59.999Z, the last instant a `DATETIME(3)` holds. */
const MAX_CREATED_AT_MS = 253_402_300_799_999;

/** base64url of at most 15 + 1 + 20 characters, without padding. */
const CURSOR = /^[A-Za-z0-9_-]{1,48}$/;
const POSITION = /^(0|[1-9][0-9]{0,14})\.([1-9][0-9]{0,19})$/;
const DECIMAL_ID = /^[1-9][0-9]{0,19}$/;

/** The pattern of a well-formed cursor (for schemas; {@link decodeTaskCursor} checks the rest). */
export const TASK_CURSOR_PATTERN = CURSOR;

function isCreatedAtMs(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0 && value <= MAX_CREATED_AT_MS;
}

function isRowId(decimal: string): boolean {
  return DECIMAL_ID.test(decimal) && BigInt(decimal) <= MAX_TASK_ROW_ID;
}

/** The cursor of the position right after `position`. */
export function encodeTaskCursor(position: TaskListPosition): string {
  if (!isCreatedAtMs(position.createdAtMs)) {
    throw new RangeError(`not a task creation time: ${position.createdAtMs}`);
  }
  if (!isRowId(String(position.id))) {
    throw new RangeError(`not a task row id: ${String(position.id)}`);
  }
  return Buffer.from(`${position.createdAtMs}.${position.id}`, 'ascii').toString('base64url');
}

/**
 * The position a cursor stands for, or null when the cursor is not one this API gives out: not
 * canonical base64url, not `<ms>.<id>`, a time outside `DATETIME`, an id beyond `BIGINT UNSIGNED`.
 */
export function decodeTaskCursor(cursor: unknown): TaskListPosition | null {
  if (typeof cursor !== 'string' || !CURSOR.test(cursor)) {
    return null;
  }
  const bytes = Buffer.from(cursor, 'base64url');
  // Node decodes leniently (stray bits, short tails): only the canonical encoding is accepted.
  if (bytes.toString('base64url') !== cursor) {
    return null;
  }
  const match = POSITION.exec(bytes.toString('latin1'));
  if (match === null) {
    return null;
  }
  const createdAtMs = Number(match[1]);
  const id = match[2];
  return isCreatedAtMs(createdAtMs) && isRowId(id) ? { createdAtMs, id } : null;
}
