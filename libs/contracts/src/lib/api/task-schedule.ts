import { TaskDelay } from '../tasks/task-limits';
import { FieldError } from '../validation/validate-dto';

/**
 * ISO-8601 date and time with an explicit zone: `2026-12-24T18:00:00Z`, `…T18:00:00.250+01:00`,
 * `…T18:00Z`. A time without a zone would mean the server's zone, so it is refused.
 */
const RUN_AT_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

/** The instant a `run_at` text names, or undefined when it is not an ISO-8601 date-time with a zone. */
export function parseRunAt(text: string): Date | undefined {
  if (!RUN_AT_PATTERN.test(text)) {
    return undefined;
  }
  const parsed = new Date(text);
  if (Number.isNaN(parsed.getTime())) {
    return undefined;
  }
  // `Date` rolls 2026-02-30 over to March: compare the calendar fields as written.
  const [date] = text.split('T');
  const [year, month, day] = date.split('-').map(Number);
  const offset = /(?:Z|([+-])(\d{2}):(\d{2}))$/i.exec(text);
  const offsetMinutes =
    offset && offset[1] ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) : 0;
  const local = new Date(parsed.getTime() + offsetMinutes * 60_000);
  if (local.getUTCFullYear() !== year || local.getUTCMonth() + 1 !== month || local.getUTCDate() !== day) {
    return undefined;
  }
  return parsed;
}

/** When a task may start, as validated from its request's `run_at` or `delay_ms`. */
export interface TaskSchedule {
  /** The instant; null: as soon as possible. */
  runAt: Date | null;
  /**
   * The schedule as the request wrote it, in one canonical form (`run_at:<UTC instant>` or
   * `delay_ms:<n>`), or null: what two requests are compared on (a `delay_ms` of the same value
   * sent twice is the same request, though its instant differs).
   */
  canonical: string | null;
}

/**
 * Validates `run_at` / `delay_ms` of an enqueue request against `now`: at most one of them, a
 * `run_at` with a zone, no later than {@link TaskDelay.MaxMs} ahead.
 */
export function validateSchedule(
  runAt: unknown,
  delayMs: unknown,
  now: Date,
): { ok: true; value: TaskSchedule } | { ok: false; errors: FieldError[] } {
  if (runAt !== undefined && delayMs !== undefined) {
    return { ok: false, errors: [{ field: 'run_at', message: 'run_at and delay_ms exclude each other: give one' }] };
  }
  if (typeof delayMs === 'number') {
    return {
      ok: true,
      value: { runAt: new Date(now.getTime() + delayMs), canonical: `delay_ms:${delayMs}` },
    };
  }
  if (typeof runAt !== 'string') {
    return { ok: true, value: { runAt: null, canonical: null } };
  }
  const instant = parseRunAt(runAt);
  if (instant === undefined) {
    return {
      ok: false,
      errors: [
        {
          field: 'run_at',
          message: 'run_at must be an ISO-8601 date-time with a zone, such as 2026-12-24T18:00:00Z or …+01:00',
        },
      ],
    };
  }
  if (instant.getTime() - now.getTime() > TaskDelay.MaxMs) {
    return {
      ok: false,
      errors: [{ field: 'run_at', message: `run_at must be at most ${TaskDelay.MaxMs / 86_400_000} days ahead` }],
    };
  }
  return { ok: true, value: { runAt: instant, canonical: `run_at:${instant.toISOString()}` } };
}
