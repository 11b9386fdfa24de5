/** What a schedule does with a tick it missed by more than the grace (everything was down). */
export enum ScheduleMissedPolicy {
  /** One task for all the ticks missed, as soon as a scheduler is back (Celery beat, Quartz's "fire once now"). */
  FireOnce = 'fire_once',
  /** None: the schedule goes on from its next tick. */
  Skip = 'skip',
}

/** What a schedule does with a tick while the task of its previous tick has not finished. */
export enum ScheduleOverlapPolicy {
  /** Fire anyway: the tasks of successive ticks may run at once (the default). */
  Allow = 'allow',
  /**
   * Fire nothing for the tick while the previous tick's task is pending or running (Temporal's
   * SKIP): at most one of the schedule's tasks at a time. Such ticks fire at their time, not ahead.
   */
  Skip = 'skip',
}

export const SCHEDULE_OVERLAP_POLICIES: readonly ScheduleOverlapPolicy[] = Object.values(ScheduleOverlapPolicy);

export const SCHEDULE_MISSED_POLICIES: readonly ScheduleMissedPolicy[] = Object.values(ScheduleMissedPolicy);

/** A schedule's name: 1 to 64 letters, digits, `.`, `_`, `-`; unique. */
export const ScheduleNameLength = {
  Min: 1,
  Max: 64,
} as const;

export const SCHEDULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Longest cron expression and time zone name accepted. */
export const ScheduleCronLength = {
  Max: 120,
} as const;

export const ScheduleTimezoneLength = {
  Max: 64,
} as const;

/** Page size of GET /api/schedules. */
export const ScheduleListLimit = {
  Min: 1,
  Max: 500,
  Default: 100,
} as const;

/** The time zone of a schedule that gives none. */
export const DEFAULT_SCHEDULE_TIMEZONE = 'UTC';

/** The schedule every database starts with (migration 011): the cleanup retention job, daily. */
export const DEFAULT_RETENTION_SCHEDULE = {
  name: 'cleanup-retention',
  cron: '0 3 * * *',
  timezone: DEFAULT_SCHEDULE_TIMEZONE,
} as const;

/** The actor a task fired by a schedule is enqueued by (in its history). */
export function scheduleActor(scheduleId: string): string {
  return `schedule:${scheduleId}`;
}
