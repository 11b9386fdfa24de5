import { PermanentTaskError } from './task-handler';

export const DEFAULT_WINDOW_MS = 24 * 60 * 60 * 1000;

export interface TimeWindow {
  from: Date;
  to: Date;
}

/** Resolves optional `from`/`to` params: `to` defaults to now, `from` to 24 hours before `to`. */
export function resolveTimeWindow(params: { from?: string; to?: string }, now: Date = new Date()): TimeWindow {
  const to = params.to === undefined ? now : new Date(params.to);
  const from = params.from === undefined ? new Date(to.getTime() - DEFAULT_WINDOW_MS) : new Date(params.from);
  // Some ISO-8601 forms pass validation but not Date parsing (week dates, ordinal dates, basic format).
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) {
    throw new PermanentTaskError(`params.from (${params.from}) and params.to (${params.to}) must be dates and times`);
  }
  if (from.getTime() >= to.getTime()) {
    throw new PermanentTaskError(`params.from (${from.toISOString()}) must be before params.to (${to.toISOString()})`);
  }
  return { from, to };
}
