import { Logger, Module } from '@nestjs/common';
import { GatewayEnv } from '../gateway.env';
import { ApiKeyRing } from './api-keys';

export const OPEN_API_WARNING =
  'NO API KEYS CONFIGURED: the API is OPEN — anyone who can reach it can enqueue, cancel and read ' +
  'tasks. Set API_KEYS_READ_WRITE (and API_KEYS_READ_ONLY) in production.';

/** The configured API keys, announced at start-up (how many, never which). */
export function createApiKeyRing(env: GatewayEnv, logger: Pick<Logger, 'log' | 'warn'>): ApiKeyRing {
  const ring = new ApiKeyRing(env.API_KEYS_READ_WRITE, env.API_KEYS_READ_ONLY);
  if (ring.enabled) {
    logger.log(
      `API keys required: ${ring.readWriteCount} read-write, ${ring.readOnlyCount} read-only ` +
        '(health, metrics and the API docs stay open)',
    );
  } else {
    logger.warn(OPEN_API_WARNING);
  }
  return ring;
}

/**
 * API-key authentication: the configured keys. The gateway's `onRequest` hooks
 * (api-key.hooks.ts, added by configureGateway) check them, before any body is read.
 */
@Module({
  providers: [
    {
      provide: ApiKeyRing,
      inject: [GatewayEnv],
      useFactory: (env: GatewayEnv) => createApiKeyRing(env, new Logger('Authentication')),
    },
  ],
  exports: [ApiKeyRing],
})
export class AuthModule {}
