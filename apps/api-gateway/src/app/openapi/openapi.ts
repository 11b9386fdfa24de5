import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import type { FastifyInstance } from 'fastify';
import { PUBLIC_OPERATION_EXTENSION } from '../auth/public.decorator';
import { markedPublic } from '../auth/public-route';
import { SchemaName, namedSchemas, schemaRef } from './openapi.schemas';

export const OPENAPI_UI_PATH = 'api/docs';
export const OPENAPI_JSON_PATH = 'api/docs-json';

/** Names of the two security schemes: either authenticates a request. */
export const SECURITY_SCHEMES = { bearer: 'bearer', apiKey: 'api_key' } as const;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'] as const;

type Operation = { security?: Array<Record<string, string[]>>; responses: Record<string, unknown> } & Record<
  string,
  unknown
>;

function errorResponse(description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: schemaRef(SchemaName.ErrorBody) } } };
}

/**
 * Every operation needs one of the API-key schemes (and may answer 401; writes also 403), except
 * the ones marked {@link Public} (health, metrics), which get `security: []`.
 */
export function applySecurity(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = (item as Record<string, Operation | undefined>)[method];
      if (!operation) {
        continue;
      }
      if (operation[PUBLIC_OPERATION_EXTENSION]) {
        delete operation[PUBLIC_OPERATION_EXTENSION];
        operation.security = [];
        continue;
      }
      operation.security = [{ [SECURITY_SCHEMES.bearer]: [] }, { [SECURITY_SCHEMES.apiKey]: [] }];
      operation.responses['401'] ??= errorResponse('No valid API key (when keys are configured)');
      if (method !== 'get' && method !== 'head' && method !== 'options') {
        operation.responses['403'] ??= errorResponse('A read-only API key on an endpoint that writes');
      }
    }
  }
  return document;
}

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Tasklane API')
    .setDescription(
      'Enqueue background tasks with a priority, follow their status, list, count and cancel them. ' +
        'Request schemas are generated from the class-validator DTOs that validate the requests.\n\n' +
        'Authentication: when the gateway is configured with API keys, every /api/tasks endpoint needs one, ' +
        'as `Authorization: Bearer <key>` or `X-API-Key: <key>`. Read-only keys may call the GET endpoints, ' +
        'read-write keys every endpoint. Health, metrics and these docs are open. Without configured keys ' +
        'the API is open.',
    )
    .setVersion('1')
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', description: 'An API key: `Authorization: Bearer <key>`' },
      SECURITY_SCHEMES.bearer,
    )
    .addApiKey(
      { type: 'apiKey', in: 'header', name: 'X-API-Key', description: 'An API key: `X-API-Key: <key>`' },
      SECURITY_SCHEMES.apiKey,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config);
  document.components = {
    ...document.components,
    schemas: { ...document.components?.schemas, ...namedSchemas() },
  };
  return applySecurity(document);
}

/** Whether a route path belongs to the API docs (Swagger UI, its assets, the JSON document). */
export function isDocsPath(url: string): boolean {
  return url === `/${OPENAPI_JSON_PATH}` || url === `/${OPENAPI_UI_PATH}` || url.startsWith(`/${OPENAPI_UI_PATH}/`);
}

/**
 * Serves Swagger UI at /api/docs and the document at /api/docs-json, open to every caller: the
 * routes Swagger registers are marked public as they are added.
 */
export function setupOpenApi(app: INestApplication): void {
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  fastify.addHook('onRoute', (route) => {
    if (isDocsPath(route.url)) {
      route.config = markedPublic(route.config);
    }
  });
  SwaggerModule.setup(OPENAPI_UI_PATH, app, () => buildOpenApiDocument(app), { jsonDocumentUrl: OPENAPI_JSON_PATH });
}
