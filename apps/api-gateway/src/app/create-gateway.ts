import { LoggerService, ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TaskMetrics } from '@tasklane/observability';
import { AppModule } from './app.module';
import { GatewayEnv } from './gateway.env';
import { ErrorsFilter } from './http/errors.filter';
import { validationExceptionFactory } from './http/api-errors';
import { frameworkErrorHandler } from './http/client-errors';
import { registerJsonBodyParser } from './http/json-body';
import { RequestSanityGuard } from './http/request-sanity.guard';
import { setupOpenApi } from './openapi/openapi';

const REQUEST_ID = /^[A-Za-z0-9._:/=+-]{1,128}$/;

/** The Fastify adapter of the gateway: body limit, request ids, and its own errors as JSON. */
export function createGatewayAdapter(env: Pick<GatewayEnv, 'BODY_LIMIT_BYTES'>): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: env.BODY_LIMIT_BYTES,
    // secure-json-parse refuses `__proto__` and `constructor.prototype` in bodies (the defaults, made explicit).
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    routerOptions: { ignoreTrailingSlash: true },
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

/**
 * Request ids, metrics, the strict JSON parser, error handling, validation and the API docs.
 * Authentication is AuthModule's global guard.
 */
export function configureGateway(app: NestFastifyApplication, env: Pick<GatewayEnv, 'BODY_LIMIT_BYTES'>): void {
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(TaskMetrics);
  fastify.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
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
  // After the API-key guard (an APP_GUARD, registered when the app was created): 401 before 400.
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
  setupOpenApi(app);
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
  configureGateway(app, env);
  return app;
}
