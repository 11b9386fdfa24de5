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
  if (from.getTime() >= to.getTime()) {
    throw new PermanentTaskError(`params.from (${from.toISOString()}) must be before params.to (${to.toISOString()})`);
  }
  return { from, to };
}
