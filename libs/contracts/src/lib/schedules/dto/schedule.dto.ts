import { Type } from 'class-transformer';
import { IsBoolean, IsEnum, IsInt, IsOptional, IsString, Length, Matches, Max, MaxLength, Min } from 'class-validator';
import {
  SCHEDULE_NAME_PATTERN,
  ScheduleCronLength,
  ScheduleListLimit,
  ScheduleMissedPolicy,
  ScheduleNameLength,
  ScheduleOverlapPolicy,
  ScheduleTimezoneLength,
} from '../schedule-limits';

/**
 * The schedule's own fields of `POST /api/schedules` (the body's other fields are the task it
 * enqueues at each tick, validated like an enqueue).
 */
export class ScheduleFieldsDto {
  @IsString()
  @Length(ScheduleNameLength.Min, ScheduleNameLength.Max)
  @Matches(SCHEDULE_NAME_PATTERN, {
    message: 'name must start with a letter or digit and hold only letters, digits, ".", "_" and "-"',
  })
  name!: string;

  /** Five fields (minute hour day-of-month month day-of-week), or six with seconds first. */
  @IsString()
  @MaxLength(ScheduleCronLength.Max)
  cron!: string;

  /** An IANA time zone (`Europe/Paris`); the cron is read in it. Default UTC. */
  @IsOptional()
  @IsString()
  @MaxLength(ScheduleTimezoneLength.Max)
  timezone?: string;

  @IsOptional()
  @IsEnum(ScheduleMissedPolicy)
  missed?: ScheduleMissedPolicy;

  /** `skip`: no task for a tick while the previous tick's task is pending or running. Default `allow`. */
  @IsOptional()
  @IsEnum(ScheduleOverlapPolicy)
  overlap?: ScheduleOverlapPolicy;

  /** False: paused (no tick fires until it is enabled again). Default true. */
  @IsOptional()
  @IsBoolean()
  enabled?: boolean;
}

/** The fields of a schedule a `PATCH` may change: any of those of the create body. */
export const SCHEDULE_FIELDS = ['name', 'cron', 'timezone', 'missed', 'overlap', 'enabled'] as const;

/** Query of `GET /api/schedules`: by name, keyset-paged. */
export class ListSchedulesQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(ScheduleListLimit.Min)
  @Max(ScheduleListLimit.Max)
  limit?: number;

  /** The `next_cursor` of the previous page (the last name on it). */
  @IsOptional()
  @IsString()
  @Length(ScheduleNameLength.Min, ScheduleNameLength.Max)
  @Matches(SCHEDULE_NAME_PATTERN, { message: 'cursor must be the next_cursor of a previous page' })
  cursor?: string;
}
