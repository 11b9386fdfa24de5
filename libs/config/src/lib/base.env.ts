import { Expose } from 'class-transformer';
import { IsIn, IsInt, IsString, Matches, Max, Min } from 'class-validator';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Settings every Tasklane app reads. Apps extend this class with their own. */
export class BaseEnv {
  /** RabbitMQ URL; the path selects the vhost (`amqp://user:pass@host:5672/vhost`). */
  @Expose()
  @IsString()
  @Matches(/^amqps?:\/\/[^\s]+$/, { message: 'AMQP_URL must be an amqp:// or amqps:// URL' })
  readonly AMQP_URL: string = 'amqp://guest:guest@127.0.0.1:5672';

  /** MySQL/MariaDB URL; the path is the database name. */
  @Expose()
  @IsString()
  @Matches(/^(mysql|mariadb):\/\/[^\s/]+\/[A-Za-z0-9_$]+(\?.*)?$/, {
    message: 'DATABASE_URL must look like mysql://user:password@host:3306/database',
  })
  readonly DATABASE_URL: string = 'mysql://root@127.0.0.1:3306/tasklane';

  /** Connections per process; replicas × this must stay well below the server's max_connections. */
  @Expose()
  @IsInt()
  @Min(1)
  @Max(100)
  readonly DATABASE_POOL_SIZE: number = 5;

  @Expose()
  @IsIn(LOG_LEVELS)
  readonly LOG_LEVEL: LogLevelName = 'log';

  @Expose()
  @IsIn(LOG_FORMATS)
  readonly LOG_FORMAT: LogFormat = 'json';

  /** How long shutdown waits for in-flight work before handing it back to the broker. */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  readonly SHUTDOWN_GRACE_MS: number = 25_000;

  /**
   * Port of `/health/live`, `/health/ready` and `/metrics` in apps without an HTTP API
   * (workers, status tracker). The gateway serves them on PORT. 0 picks a free port (tests).
   */
  @Expose()
  @IsInt()
  @Min(0)
  @Max(65_535)
  readonly HEALTH_PORT: number = 9400;
}
