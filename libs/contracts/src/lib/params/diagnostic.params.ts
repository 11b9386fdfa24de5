import { IsInt, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';

/** Upper bound of a diagnostic sleep: one day. */
export const MAX_DIAGNOSTIC_SLEEP_MS = 86_400_000;

export class SleepParams {
  @IsInt()
  @Min(0)
  @Max(MAX_DIAGNOSTIC_SLEEP_MS)
  ms!: number;
}

export interface SleepResult {
  slept_ms: number;
}

export class FailParams {
  @IsString()
  @MinLength(1)
  @MaxLength(1000)
  message!: string;
}

/** A diagnostic failure never returns. */
export type FailResult = never;
