import { HttpException, HttpStatus } from '@nestjs/common';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPublicRoute } from '../auth/public-route';
import { GatewayEnv } from '../gateway.env';
import { closeIfBodyUnread } from '../http/unread-body';

export type RateLimitEnv = Pick<GatewayEnv, 'RATE_LIMIT_MAX' | 'RATE_LIMIT_WINDOW_MS'>;

/** Most distinct callers (keys and addresses) whose counts are kept at once (least recently seen go first). */
const TRACKED_CALLERS = 10_000;

/**
 * The budget a request counts against: its API key's (by digest, never the key) when it
 * presented a valid one, otherwise its client address's — with the API open, and for every
 * request without a valid key.
 */
export function rateLimitKey(request: Pick<FastifyRequest, 'apiCaller' | 'ip'>): string {
  const caller = request.apiCaller;
  return caller?.kind === 'key' ? `key:${caller.keyId}` : `address:${request.ip}`;
}

/** The 429 (in the gateway's error shape), naming the budget and when to retry; never the key. */
export function tooManyRequests(
  request: Pick<FastifyRequest, 'apiCaller'>,
  env: RateLimitEnv,
  retryAfterSeconds: number,
): HttpException {
  const budget = request.apiCaller?.kind === 'key' ? 'per API key' : 'per client address';
  return new HttpException(
    {
      statusCode: HttpStatus.TOO_MANY_REQUESTS,
      error: 'Too Many Requests',
      message:
        `Rate limit exceeded: at most ${env.RATE_LIMIT_MAX} requests per ${env.RATE_LIMIT_WINDOW_MS / 1000} s ` +
        `${budget}; retry in ${retryAfterSeconds} s`,
    },
    HttpStatus.TOO_MANY_REQUESTS,
  );
}

/**
 * Rate limits (`@fastify/rate-limit`, counts in this process's memory), as an `onRequest` hook
 * between authentication (which tells the key) and authorization (so that refused requests count
 * too): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS per budget ({@link rateLimitKey}), then
 * 429 with `Retry-After`. Public routes (health, metrics, API docs) are not limited. Off when
 * RATE_LIMIT_MAX is 0.
 */
export async function addRateLimitHook(fastify: FastifyInstance, env: RateLimitEnv): Promise<void> {
  if (env.RATE_LIMIT_MAX === 0) {
    return;
  }
  await fastify.register(rateLimit, {
    global: false,
    max: env.RATE_LIMIT_MAX,
    timeWindow: env.RATE_LIMIT_WINDOW_MS,
    cache: TRACKED_CALLERS,
    keyGenerator: rateLimitKey,
    errorResponseBuilder: (request, context) =>
      tooManyRequests(request, env, Math.max(1, Math.ceil(context.ttl / 1000))),
  });
  const limit = fastify.rateLimit();
  fastify.addHook('onRequest', async function limitRate(request: FastifyRequest, reply: FastifyReply) {
    if (isPublicRoute(request)) {
      return;
    }
    try {
      await limit.call(this, request, reply);
    } catch (error) {
      closeIfBodyUnread(request, reply);
      throw error;
    }
  });
}
