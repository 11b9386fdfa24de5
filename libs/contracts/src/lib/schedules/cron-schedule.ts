import { CronExpressionParser } from 'cron-parser';
import { FieldError } from '../validation/validate-dto';
import { ScheduleMissedPolicy } from './schedule-limits';

/** When a schedule fires: a cron expression read in an IANA time zone. */
export interface CronTiming {
  cron: string;
  timezone: string;
}

/** Whether `name` is a time zone this runtime knows (IANA names, `UTC`). */
export function isTimeZone(name: string): boolean {
  if (name.trim() === '') {
    return false;
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * The problems of a cron timing, naming `cron` or `timezone`: five fields (minute, hour, day of
 * month, month, day of week) or six (seconds first), or a macro (`@daily`); one that never fires
 * (`0 0 30 2 *`) is refused too. Parsed by cron-parser, the parser BullMQ uses.
 */
export function cronTimingErrors(timing: CronTiming): FieldError[] {
  if (!isTimeZone(timing.timezone)) {
    return [
      {
        field: 'timezone',
        message: `timezone must be an IANA time zone such as Europe/Paris (got "${timing.timezone}")`,
      },
    ];
  }
  const fields = timing.cron.trim().split(/\s+/);
  if (!timing.cron.trim().startsWith('@') && (fields.length < 5 || fields.length > 6)) {
    return [
      {
        field: 'cron',
        message: 'cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first)',
      },
    ];
  }
  try {
    CronExpressionParser.parse(timing.cron, { tz: timing.timezone, currentDate: new Date() }).next();
    return [];
  } catch (error) {
    return [{ field: 'cron', message: `cron is not a valid cron expression: ${(error as Error).message}` }];
  }
}

/** The first tick of `timing` strictly after `after`, or null if it has none. */
export function nextTick(timing: CronTiming, after: Date): Date | null {
  try {
    return CronExpressionParser.parse(timing.cron, { tz: timing.timezone, currentDate: after }).next().toDate();
  } catch {
    return null;
  }
}

/** What one scheduler pass does with a due schedule ({@link planTicks}). */
export interface TickPlan {
  /** The ticks to enqueue a task for, oldest first (each task's `run_at`). */
  fire: Date[];
  /** The schedule's next tick after them (null: none). */
  next: Date | null;
  /** The due tick was missed by more than the grace: `fire` holds one tick (fire_once) or none (skip). */
  missed: boolean;
}

export interface TickWindow {
  /** The scheduler's clock (the database's). */
  now: Date;
  /** Ticks up to here are enqueued now, due at their time (the due relay publishes them then). */
  horizon: Date;
  /** A tick older than `now` by more than this was missed (everything was down). */
  graceMs: number;
  /** Most ticks enqueued for one schedule in one pass; the rest wait for the next pass. */
  maxTicks: number;
}

/**
 * Which ticks of a schedule due at `dueTick` fire in this pass, and its next tick. Ticks on time
 * (not older than the grace) each fire once, up to the horizon; a tick missed by more than the
 * grace collapses every missed tick into one task (`fire_once`, for the first missed tick) or
 * none (`skip`), and the schedule goes on from its first tick after now.
 */
export function planTicks(
  timing: CronTiming & { missed: ScheduleMissedPolicy },
  dueTick: Date,
  window: TickWindow,
): TickPlan {
  if (window.now.getTime() - dueTick.getTime() > window.graceMs) {
    return {
      fire: timing.missed === ScheduleMissedPolicy.FireOnce ? [dueTick] : [],
      next: nextTick(timing, window.now),
      missed: true,
    };
  }
  const fire: Date[] = [];
  let tick: Date | null = dueTick;
  while (tick !== null && tick <= window.horizon && fire.length < window.maxTicks) {
    fire.push(tick);
    tick = nextTick(timing, tick);
  }
  return { fire, next: tick, missed: false };
}
