import {
  IsArray,
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  MinLength,
  ValidationArguments,
  ValidationOptions,
  registerDecorator,
} from 'class-validator';
import { Expose, Transform } from 'class-transformer';
import { BaseEnv, CommaList, Secret } from '@tasklane/config';
import { API_KEY_MAX_LENGTH, API_KEY_MIN_LENGTH, API_KEY_PATTERN } from './auth/api-keys';

const API_KEY_FORMAT =
  `each key must be ${API_KEY_MIN_LENGTH}–${API_KEY_MAX_LENGTH} characters of A–Z, a–z, 0–9, ` +
  '"-._~+/" (and "=" at the end), separated by commas';

/** A browser origin as a browser sends it in `Origin`: scheme, host and optional port, no path. */
export const ORIGIN_PATTERN = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?$/;

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
  @CommaList()
  @IsArray()
  @Matches(API_KEY_PATTERN, { each: true, message: `API_KEYS_READ_WRITE: ${API_KEY_FORMAT}` })
  @Secret()
  readonly API_KEYS_READ_WRITE: readonly string[] = [];

  /** API keys allowed to call the GET endpoints only, comma-separated. */
  @Expose()
  @CommaList()
  @IsArray()
  @Matches(API_KEY_PATTERN, { each: true, message: `API_KEYS_READ_ONLY: ${API_KEY_FORMAT}` })
  @SharesNoKeyWith('API_KEYS_READ_WRITE')
  @Secret()
  readonly API_KEYS_READ_ONLY: readonly string[] = [];

  /**
   * Rate limit: most requests per RATE_LIMIT_WINDOW_MS from one API key (by its digest), or from
   * one client address for requests without a valid key (all of them when the API is open); then
   * 429 with Retry-After. Counted in each gateway replica's memory: with N replicas behind a
   * balancer a caller gets about N × this. 0 (the default) turns rate limiting off.
   */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  readonly RATE_LIMIT_MAX: number = 0;

  /** The window of RATE_LIMIT_MAX, in milliseconds (fixed windows, as @fastify/rate-limit counts). */
  @Expose()
  @IsInt()
  @Min(1_000)
  @Max(86_400_000)
  readonly RATE_LIMIT_WINDOW_MS: number = 60_000;

  /**
   * Proxies in front of the gateway whose X-Forwarded-For is trusted for the client address (the
   * rate limit's per-address budget), as a hop count. 0 (the default): the TCP peer is the client.
   * Behind one ingress or load balancer, 1.
   */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(10)
  readonly TRUST_PROXY_HOPS: number = 0;

  /**
   * How long an idempotency key (`Idempotency-Key`, `idempotency_key`) keeps returning the task
   * its first request created: 24 hours by default (1 minute to 30 days). After it, the same key
   * enqueues a new task.
   */
  @Expose()
  @IsInt()
  @Min(60_000)
  @Max(2_592_000_000)
  readonly IDEMPOTENCY_KEY_RETENTION_MS: number = 86_400_000;

  /**
   * How often the gateway looks whether the tasks clients wait for (`GET /api/tasks/{id}?wait=`)
   * have finished: one read for all of them, however many clients wait.
   */
  @Expose()
  @IsInt()
  @Min(20)
  @Max(10_000)
  readonly TASK_WAIT_POLL_INTERVAL_MS: number = 200;

  /** Most clients waiting at once (`?wait=`) per gateway process; beyond it a wait is a 503. */
  @Expose()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  readonly TASK_WAIT_MAX_CLIENTS: number = 10_000;

  /**
   * The built dashboard served at /ui/ (`npm run build` writes dist/apps/dashboard). Default:
   * beside the gateway's bundle. Without a build there, /ui answers 503 and the API is unaffected.
   */
  @Expose()
  @IsOptional()
  @IsString()
  @MinLength(1)
  readonly DASHBOARD_DIR?: string;

  /**
   * Browser origins allowed to call the API across origins (CORS), comma-separated and exact
   * (`https://ops.example.com`). Unset (the default): no CORS headers at all, so browsers keep
   * pages of other origins out.
   */
  @Expose()
  @CommaList()
  @IsArray()
  @Matches(ORIGIN_PATTERN, {
    each: true,
    message: 'CORS_ORIGINS: each origin must be scheme://host[:port] (http or https, no path), separated by commas',
  })
  readonly CORS_ORIGINS: readonly string[] = [];

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
