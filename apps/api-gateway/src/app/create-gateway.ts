import { LoggerService, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TaskMetrics } from '@tasklane/observability';
import { AppModule } from './app.module';
import { addAuthenticationHook, addAuthorizationHook } from './auth/api-key.hooks';
import { ApiKeyRing } from './auth/api-keys';
import { GatewayEnv } from './gateway.env';
import { ErrorsFilter } from './http/errors.filter';
import { validationExceptionFactory } from './http/api-errors';
import { frameworkErrorHandler } from './http/client-errors';
import { registerJsonBodyParser } from './http/json-body';
import { RequestSanityGuard } from './http/request-sanity.guard';
import { setupOpenApi } from './openapi/openapi';
import { dashboardDir, serveDashboard } from './dashboard/dashboard-static';
import { addEtagHook } from './http/etag.hook';
import { addRateLimitHook } from './rate-limit/rate-limit.hook';
import { addSecurityHeaders } from './security/security-headers';

const REQUEST_ID = /^[A-Za-z0-9._:/=+-]{1,128}$/;

/**
 * Longest path parameter the router matches (Fastify's default is 100). Below it a malformed task
 * id reaches its route and gets the 400 naming `task_id`, however long; beyond it, 414.
 */
export const MAX_PATH_PARAM_LENGTH = 2_048;

/** The Fastify adapter of the gateway: body limit, request ids, and its own errors as JSON. */
export function createGatewayAdapter(env: Pick<GatewayEnv, 'BODY_LIMIT_BYTES' | 'TRUST_PROXY_HOPS'>): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: env.BODY_LIMIT_BYTES,
    // The client address (the rate limit's per-address budget) from X-Forwarded-For, past this many proxies.
    trustProxy: env.TRUST_PROXY_HOPS > 0 ? env.TRUST_PROXY_HOPS : false,
    // secure-json-parse refuses `__proto__` and `constructor.prototype` in bodies (the defaults, made explicit).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Bad percent-encoding in the path, over-long path parameters: the same JSON error shape.
    frameworkErrors: frameworkErrorHandler(env.BODY_LIMIT_BYTES),
    // A caller's X-Request-Id is kept (and echoed) when it is a sane token; otherwise one is made up.
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
}

/** What {@link configureGateway} reads. */
export type GatewayHttpEnv = Pick<
  GatewayEnv,
  'BODY_LIMIT_BYTES' | 'CORS_ORIGINS' | 'RATE_LIMIT_MAX' | 'RATE_LIMIT_WINDOW_MS' | 'DASHBOARD_DIR'
>;

/**
 * The gateway's request pipeline. `onRequest` hooks, in this order and all before any body is
 * read: the request id; security headers and CORS; authentication (who calls, from the headers);
 * the rate limit (per key, or per address); authorization (401/403). Then the strict JSON parser,
 * error handling, validation, ETags of API reads, the API docs and the dashboard's files.
 */
export async function configureGateway(app: NestFastifyApplication, env: GatewayHttpEnv): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(TaskMetrics);
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  await addSecurityHeaders(fastify, env);
  addAuthenticationHook(fastify, app.get(ApiKeyRing));
  await addRateLimitHook(fastify, env);
  addAuthorizationHook(fastify);
  fastify.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });
  // JSON only, valid UTF-8: any other content type is answered 415 by Fastify.
  fastify.removeContentTypeParser(['text/plain']);
  registerJsonBodyParser(fastify, env.BODY_LIMIT_BYTES);
  app.useGlobalFilters(new ErrorsFilter(env.BODY_LIMIT_BYTES));
  app.useGlobalGuards(new RequestSanityGuard());
  app.useGlobalPipes(
    new ValidationPipe({
      transform: true,
      whitelist: true,
      forbidNonWhitelisted: true,
      forbidUnknownValues: true,
      exceptionFactory: validationExceptionFactory,
    }),
  );
  addEtagHook(fastify);
  setupOpenApi(app);
  await serveDashboard(fastify, dashboardDir(env.DASHBOARD_DIR));
}

/** Options of NestFactory.create / createNestApplication for the gateway. */
export const GATEWAY_APP_OPTIONS = {
  abortOnError: false,
  // Nest would register a lenient JSON parser and a form (urlencoded) one; the gateway takes
  // strict JSON only (registerJsonBodyParser).
  bodyParser: false,
} as const;

/** Builds the HTTP app (Fastify) with the gateway's authentication, validation and error handling. */
export async function createGateway(env: GatewayEnv, logger: LoggerService | false): Promise<NestFastifyApplication> {
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createGatewayAdapter(env), {
    logger,
    ...GATEWAY_APP_OPTIONS,
  });
  await configureGateway(app, env);
  return app;
}
