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
import { setupOpenApi } from './openapi/openapi';

const REQUEST_ID = /^[A-Za-z0-9._:/=+-]{1,128}$/;

/** Builds the HTTP app (Fastify) with the gateway's validation and error handling. */
export async function createGateway(env: GatewayEnv, logger: LoggerService | false): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: env.BODY_LIMIT_BYTES,
    routerOptions: { ignoreTrailingSlash: true },
    // A caller's X-Request-Id is kept (and echoed) when it is a sane token; otherwise one is made up.
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, adapter, { logger, abortOnError: false });
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
  // JSON only: any other content type is answered 415 by Fastify.
  fastify.removeContentTypeParser(['text/plain']);
  app.useGlobalFilters(new ErrorsFilter());
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
  return app;
}
