import { Expose } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
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
}
