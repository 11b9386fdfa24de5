import { FieldError, encodeTaskCursor, decodeTaskCursor } from '@tasklane/contracts';
import { TaskKeysetPosition } from '@tasklane/persistence';
import { invalidRequest } from '../http/api-errors';

/** What GET /api/tasks answers to a cursor it never gave out: the message its query validation gives. */
const NOT_A_CURSOR: FieldError = { field: 'cursor', message: 'cursor must be a next_cursor given by this API' };

/** The `next_cursor` of a page whose next page starts right after `position`. */
export function encodeListCursor(position: TaskKeysetPosition): string {
  return encodeTaskCursor({ createdAtMs: position.createdAt.getTime(), id: position.id });
}

/**
 * The keyset position a `cursor` of GET /api/tasks stands for; a 400 naming the field `cursor`
 * (the answer of the query's validation) when it is not a `next_cursor` this API gives out.
 */
export function decodeListCursor(cursor: string): TaskKeysetPosition {
  const position = decodeTaskCursor(cursor);
  if (position === null) {
    throw invalidRequest([NOT_A_CURSOR]);
  }
  return { createdAt: new Date(position.createdAtMs), id: position.id };
}
