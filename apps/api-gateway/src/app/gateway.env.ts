import { IsBoolean, IsInt, Max, Min } from 'class-validator';
import { Expose, Transform } from 'class-transformer';
import { BaseEnv } from '@tasklane/config';

export class GatewayEnv extends BaseEnv {
  @Expose()
  @IsInt()
  @Min(1)
  @Max(65_535)
  readonly PORT: number = 8000;

  /** Largest request body accepted, in bytes. */
  @Expose()
  @IsInt()
  @Min(1_024)
  @Max(16_777_216)
  readonly BODY_LIMIT_BYTES: number = 1_048_576;

  /**
   * Fault injection for tests only: the gateway kills itself right after committing a task,
   * before publishing it (proves the outbox relay). Never set it in production.
   */
  @Expose()
  // Read the raw variable: implicit conversion would turn the string "false" into true.
  @Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => ['true', '1'].includes(String(obj[key])))
  @IsBoolean()
  readonly TEST_CRASH_AFTER_INSERT: boolean = false;
}
