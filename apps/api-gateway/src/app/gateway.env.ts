import {
  IsArray,
  IsBoolean,
  IsInt,
  Matches,
  Max,
  Min,
  ValidationArguments,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';
import { Expose, Transform } from 'class-transformer';
import { BaseEnv, Secret } from '@tasklane/config';
import { API_KEY_MAX_LENGTH, API_KEY_MIN_LENGTH, API_KEY_PATTERN, parseApiKeyList } from './auth/api-keys';

const API_KEY_FORMAT =
  `each key must be ${API_KEY_MIN_LENGTH}–${API_KEY_MAX_LENGTH} characters of A–Z, a–z, 0–9, ` +
  '"-._~+/" (and "=" at the end), separated by commas';

/** Reads a comma-separated list of keys from the raw variable (no implicit conversion). */
const KeyList = (): PropertyDecorator =>
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => parseApiKeyList(obj[key]));

/** No key may be in both lists (which access would it grant?). */
function SharesNoKeyWith(other: string, options?: ValidationOptions): PropertyDecorator {
  return (target, propertyName) => {
    registerDecorator({
      name: 'sharesNoKeyWith',
      target: target.constructor,
      propertyName: propertyName as string,
      constraints: [other],
      options,
      validator: {
        validate(value: unknown, args: ValidationArguments): boolean {
          const others = (args.object as Record<string, unknown>)[args.constraints[0] as string];
          return !Array.isArray(value) || !Array.isArray(others) || !value.some((key) => others.includes(key));
        },
        defaultMessage(args: ValidationArguments): string {
          return `${args.property} must not repeat a key of ${String(args.constraints[0])}`;
        },
      },
    });
  };
}

export class GatewayEnv extends BaseEnv {
  @Expose()
  @IsInt()
  @Min(1)
  @Max(65_535)
  readonly PORT: number = 8000;

  /**
   * Largest request body accepted, in bytes. 4 MiB by default: a batch of 1,000 tasks with
   * modest params (an email each) fits; a single enqueue is bounded by its params (64 KiB) anyway.
   */
  @Expose()
  @IsInt()
  @Min(1_024)
  @Max(16_777_216)
  readonly BODY_LIMIT_BYTES: number = 4_194_304;

  /**
   * API keys allowed to call every endpoint (enqueue, cancel, retry and the reads), comma-separated.
   * With neither this nor API_KEYS_READ_ONLY set, the API is open (a loud warning at start-up).
   */
  @Expose()
  @KeyList()
  @IsArray()
  @Matches(API_KEY_PATTERN, { each: true, message: `API_KEYS_READ_WRITE: ${API_KEY_FORMAT}` })
  @Secret()
  readonly API_KEYS_READ_WRITE: readonly string[] = [];

  /** API keys allowed to call the GET endpoints only, comma-separated. */
  @Expose()
  @KeyList()
  @IsArray()
  @Matches(API_KEY_PATTERN, { each: true, message: `API_KEYS_READ_ONLY: ${API_KEY_FORMAT}` })
  @SharesNoKeyWith('API_KEYS_READ_WRITE')
  @Secret()
  readonly API_KEYS_READ_ONLY: readonly string[] = [];

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
