import 'reflect-metadata';
import { HttpStatus, RequestMethod, Type } from '@nestjs/common';
import { HTTP_CODE_METADATA, METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { TASK_NAMES, TASK_STATUSES, TASK_TYPES, TaskListLimit, encodeTaskCursor } from '@tasklane/contracts';
import { HealthService } from '@tasklane/observability';
import { DashboardController } from '../dashboard/dashboard.controller';
import { DashboardStats } from '../dashboard/dashboard-stats.service';
import { OpsController } from '../ops/ops.controller';
import { SchedulesController } from '../schedules/schedules.controller';
import { SchedulesService } from '../schedules/schedules.service';
import { WaitForTask } from '../tasks/use-cases/wait-for-task.use-case';
import { TasksController } from '../tasks/tasks.controller';
import { CancelTask } from '../tasks/use-cases/cancel-task.use-case';
import { EnqueueTasks } from '../tasks/use-cases/enqueue-tasks.use-case';
import { RetryFailedTasks } from '../tasks/use-cases/retry-failed-tasks.use-case';
import { RetryTask } from '../tasks/use-cases/retry-task.use-case';
import { TaskQueries } from '../tasks/use-cases/task-queries.service';
import { buildOpenApiDocument } from './openapi';
import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import { SchemaName, schemaRef } from './openapi.schemas';

const CONTROLLERS: Array<Type<unknown>> = [TasksController, SchedulesController, OpsController, DashboardController];

type SchemaLike = Record<string, unknown> & {
  properties?: Record<string, SchemaLike>;
  oneOf?: SchemaLike[];
  required?: string[];
};

interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: SchemaLike }>;
  requestBody?: { content: Record<string, { schema: SchemaLike }> };
  responses: Record<string, { content?: Record<string, { schema: SchemaLike }> }>;
}

interface Route {
  method: string;
  path: string;
  /** The status the handler answers on success (its @HttpCode, or Nest's default). */
  status: number;
}

function joinPath(...parts: Array<string | undefined>): string {
  const joined = parts
    .flatMap((part) => (part ?? '').split('/'))
    .filter((segment) => segment !== '')
    .map((segment) => (segment.startsWith(':') ? `{${segment.slice(1)}}` : segment))
    .join('/');
  return `/${joined}`;
}

/** Every route of the controllers, from Nest's own routing metadata (what Fastify actually serves). */
function routesOf(controllers: Array<Type<unknown>>): Route[] {
  const routes: Route[] = [];
  for (const controller of controllers) {
    const prefixes = [Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined].flat();
    const prototype = controller.prototype as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(prototype)) {
      const handler = prototype[key];
      if (key === 'constructor' || typeof handler !== 'function') {
        continue;
      }
      const methodPaths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      const requestMethod = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
      if (methodPaths === undefined || requestMethod === undefined) {
        continue;
      }
      const method = RequestMethod[requestMethod].toLowerCase();
      const status =
        (Reflect.getMetadata(HTTP_CODE_METADATA, handler) as number | undefined) ??
        (requestMethod === RequestMethod.POST ? HttpStatus.CREATED : HttpStatus.OK);
      for (const prefix of prefixes) {
        for (const methodPath of [methodPaths].flat()) {
          routes.push({ method, path: joinPath(prefix, methodPath), status });
        }
      }
    }
  }
  return routes;
}

describe('OpenAPI document', () => {
  let app: NestFastifyApplication;
  let document: OpenAPIObject;
  const routes = routesOf(CONTROLLERS);

  const operation = (method: string, path: string): Operation => {
    const found = (document.paths[path] as Record<string, Operation> | undefined)?.[method];
    if (!found) {
      throw new Error(`${method.toUpperCase()} ${path} is not in the document`);
    }
    return found;
  };

  /** A schema as written, or the named schema it refers to (`$ref` into components.schemas). */
  const resolve = (schema: SchemaLike | undefined): SchemaLike => {
    const ref = schema?.['$ref'];
    if (typeof ref !== 'string') {
      return schema ?? {};
    }
    const name = ref.replace('#/components/schemas/', '');
    const named = document.components?.schemas?.[name] as SchemaLike | undefined;
    if (!named) {
      throw new Error(`${ref} is not in components.schemas`);
    }
    return named;
  };
  const ERROR_REF = schemaRef(SchemaName.ErrorBody) as SchemaLike;

  beforeAll(async () => {
    const module = await Test.createTestingModule({
      controllers: CONTROLLERS,
      providers: [
        ...[
          EnqueueTasks,
          TaskQueries,
          CancelTask,
          RetryTask,
          RetryFailedTasks,
          DashboardStats,
          SchedulesService,
          WaitForTask,
        ].map((useCase) => ({
          provide: useCase,
          useValue: {},
        })),
        {
          provide: HealthService,
          useValue: { readiness: async () => ({ status: 'ready', checks: {} }), markShuttingDown: () => undefined },
        },
        { provide: Registry, useValue: new Registry() },
      ],
    }).compile();
    app = module.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false });
    await app.init();
    document = buildOpenApiDocument(app);
  });

  afterAll(async () => {
    await app?.close();
  });

  it('finds the routes to check (the metadata walk works)', () => {
    expect(routes.map((route) => `${route.method.toUpperCase()} ${route.path}`).sort()).toEqual([
      'DELETE /api/schedules/{schedule_id}',
      'GET /api/dashboard/caller',
      'GET /api/dashboard/summary',
      'GET /api/schedules',
      'GET /api/schedules/{schedule_id}',
      'GET /api/tasks',
      'GET /api/tasks/count/all',
      'GET /api/tasks/{task_id}',
      'GET /api/tasks/{task_id}/events',
      'GET /api/tasks/{task_id}/runs',
      'GET /health/live',
      'GET /health/ready',
      'GET /metrics',
      'PATCH /api/schedules/{schedule_id}',
      'POST /api/schedules',
      'POST /api/tasks/enqueue',
      'POST /api/tasks/enqueue/batch',
      'POST /api/tasks/retry-failed',
      'POST /api/tasks/{task_id}/cancel',
      'POST /api/tasks/{task_id}/retry',
    ]);
  });

  it('is an OpenAPI 3 document about the Tasklane API', () => {
    expect(document.openapi).toMatch(/^3\./);
    expect(document.info.title).toBe('Tasklane API');
  });

  it('is valid by the OpenAPI 3 schema, every $ref resolving (swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(document) as OpenAPI.Document)).resolves.toBeDefined();
  });

  it('rejects a broken document in that validator (the check above can fail)', async () => {
    const broken = structuredClone(document) as unknown as { paths: Record<string, Record<string, unknown>> };
    (broken.paths['/api/tasks']['get'] as { responses: Record<string, unknown> }).responses['200'] = {
      description: 'x',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/NoSuchSchema' } } },
    };
    await expect(SwaggerParser.validate(broken as unknown as OpenAPI.Document)).rejects.toThrow(/NoSuchSchema/);
  });

  it('names its schemas, so generated clients get real types', () => {
    const names = Object.keys(document.components?.schemas ?? {});
    expect(names).toEqual(expect.arrayContaining(Object.values(SchemaName)));
    const bodies: Array<[string, string, SchemaLike | undefined]> = [];
    for (const [path, item] of Object.entries(document.paths).filter(([path]) => path.startsWith('/api/tasks'))) {
      for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
        bodies.push([method, path, op.requestBody?.content['application/json']?.schema]);
        for (const response of Object.values(op.responses)) {
          bodies.push([method, path, response.content?.['application/json']?.schema]);
        }
      }
    }
    const inline = bodies.filter(([, , schema]) => {
      if (schema === undefined) {
        return false;
      }
      const items = schema['items'] as SchemaLike | undefined;
      return typeof (schema['$ref'] ?? items?.['$ref']) !== 'string';
    });
    expect(inline.map(([method, path]) => `${method} ${path}`)).toEqual([]);
    expect(operation('get', '/api/tasks/{task_id}').responses['200'].content?.['application/json'].schema).toEqual(
      schemaRef(SchemaName.TaskResource),
    );
    expect(operation('get', '/api/tasks').responses['200'].content?.['application/json'].schema).toEqual(
      schemaRef(SchemaName.TaskPage),
    );
  });

  it('documents every route of the controllers', () => {
    for (const route of routes) {
      expect(Object.keys(document.paths[route.path] ?? {})).toContain(route.method);
    }
  });

  it('documents nothing else', () => {
    const documented = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object)
        .filter((key) => ['get', 'put', 'post', 'delete', 'patch', 'options', 'head'].includes(key))
        .map((method) => `${method} ${path}`),
    );
    expect(documented.sort()).toEqual(routes.map((route) => `${route.method} ${route.path}`).sort());
  });

  it("documents each route's success status (POST …/cancel answers 200, enqueue 201 — or 200 for a replay)", () => {
    for (const route of routes) {
      const statuses = Object.keys(operation(route.method, route.path).responses).map(Number);
      const successes = statuses.filter((status) => status >= 200 && status < 300);
      // An enqueue under an idempotency key that is already known answers 200 with the earlier task.
      const replay = route.path.startsWith('/api/tasks/enqueue') ? [200] : [];
      expect({ route: `${route.method} ${route.path}`, successes }).toEqual({
        route: `${route.method} ${route.path}`,
        successes: [...replay, route.status],
      });
    }
  });

  it('documents the Idempotency-Key header, run_at, delay_ms and idempotency_key of an enqueue', () => {
    const enqueue = operation('post', '/api/tasks/enqueue') as unknown as {
      parameters?: Array<{ name: string; in: string }>;
    };
    expect(enqueue.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'Idempotency-Key', in: 'header' })]),
    );
    const schema = resolve(operation('post', '/api/tasks/enqueue').requestBody?.content['application/json'].schema);
    const properties = schema['properties'] as Record<string, SchemaLike>;
    expect(properties['run_at']).toMatchObject({ type: 'string', format: 'date-time' });
    expect(properties['delay_ms']).toMatchObject({ type: 'integer', minimum: 0 });
    expect(properties['idempotency_key']).toMatchObject({ type: 'string', minLength: 1, maxLength: 255 });
    const resource = resolve(schemaRef(SchemaName.TaskResource) as SchemaLike);
    expect(resource['required']).toContain('run_at');
  });

  it('describes the schedules API: the body is the schedule and its task, without run_at; 409 on a taken name', () => {
    const create = operation('post', '/api/schedules');
    const body = resolve(create.requestBody?.content['application/json'].schema);
    expect(body.required).toEqual(expect.arrayContaining(['name', 'cron', 'task_name']));
    expect(body['additionalProperties']).toBe(false);
    const properties = Object.keys(body.properties ?? {});
    expect(properties).toEqual(
      expect.arrayContaining([
        'name',
        'cron',
        'timezone',
        'missed',
        'overlap',
        'enabled',
        'task_name',
        'params',
        'priority',
      ]),
    );
    expect(properties).not.toEqual(expect.arrayContaining(['run_at']));
    expect(properties).not.toEqual(expect.arrayContaining(['idempotency_key']));
    expect(Object.keys(create.responses)).toEqual(expect.arrayContaining(['201', '400', '409']));
    const patch = resolve(
      operation('patch', '/api/schedules/{schedule_id}').requestBody?.content['application/json'].schema,
    );
    expect(patch.required).toBeUndefined();
    expect(patch['minProperties']).toBe(1);
    expect(Object.keys(operation('delete', '/api/schedules/{schedule_id}').responses)).toEqual(
      expect.arrayContaining(['204', '404']),
    );
    const resource = resolve(schemaRef(SchemaName.ScheduleResource) as SchemaLike);
    expect(resource.required).toEqual(
      expect.arrayContaining([
        'schedule_id',
        'next_run_at',
        'last_run_at',
        'last_task_id',
        'enabled',
        'missed',
        'overlap',
      ]),
    );
  });

  it('describes the enqueue body: params is one of the params DTOs, one per catalogue task name', () => {
    const body = operation('post', '/api/tasks/enqueue').requestBody;
    const schema = resolve(body?.content['application/json'].schema);
    expect(schema.required).toEqual(expect.arrayContaining(['task_name']));
    expect(schema['additionalProperties']).toBe(false);
    expect(Object.keys(schema.properties ?? {})).toEqual(
      expect.arrayContaining(['task_name', 'task_type', 'params', 'priority', 'max_retries']),
    );
    const variants = (schema.properties?.['params'].oneOf ?? []).map(resolve);
    expect(variants.map((variant) => variant['title']).sort()).toEqual([...TASK_NAMES].sort());
    const email = variants.find((variant) => variant['title'] === 'email.send') as SchemaLike;
    expect(email['additionalProperties']).toBe(false);
    expect(email.required).toEqual(expect.arrayContaining(['to', 'subject', 'body']));
  });

  it('describes the batch body: 1 to 1,000 enqueue bodies under tasks, and answers the tasks in order', () => {
    const batch = operation('post', '/api/tasks/enqueue/batch');
    const schema = resolve(batch.requestBody?.content['application/json'].schema);
    expect(schema).toMatchObject({ type: 'object', required: ['tasks'], additionalProperties: false });
    const tasks = schema.properties?.['tasks'] as SchemaLike & { items: SchemaLike };
    expect(tasks).toMatchObject({ type: 'array', minItems: 1, maxItems: 1_000 });
    const single = operation('post', '/api/tasks/enqueue').requestBody?.content['application/json'].schema;
    expect(tasks.items).toEqual(single);
    const answer = resolve(batch.responses['201'].content?.['application/json'].schema);
    expect(answer.required).toEqual(['tasks']);
    expect((answer.properties?.['tasks'] as SchemaLike & { items: SchemaLike }).items).toEqual(
      operation('post', '/api/tasks/enqueue').responses['201'].content?.['application/json'].schema,
    );
  });

  it('describes the bounds of priority (and its aging) and max_retries', () => {
    const schema = resolve(operation('post', '/api/tasks/enqueue').requestBody?.content['application/json'].schema);
    expect(schema.properties?.['priority']).toMatchObject({
      type: 'integer',
      minimum: 1,
      maximum: 10,
      description: expect.stringContaining('TASK_AGING_AFTER_MS'),
    });
    expect(schema.properties?.['max_retries']).toMatchObject({ minimum: 0, maximum: 10 });
  });

  it('lists the query parameters of GET /api/tasks with the bounds of the DTO', () => {
    const parameters = operation('get', '/api/tasks').parameters ?? [];
    const query = Object.fromEntries(
      parameters.filter((parameter) => parameter.in === 'query').map((parameter) => [parameter.name, parameter]),
    );
    expect(Object.keys(query).sort()).toEqual([
      'created_after',
      'created_before',
      'cursor',
      'limit',
      'offset',
      'priority',
      'q',
      'status',
      'task_name',
      'task_type',
    ]);
    expect(query['priority'].schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 10 });
    expect(query['task_name'].schema['enum']).toEqual([...TASK_NAMES]);
    for (const parameter of Object.values(query)) {
      expect(parameter.required).toBe(false);
    }
    expect(query['limit'].schema).toMatchObject({ type: 'integer', minimum: TaskListLimit.Min, maximum: 500 });
    expect(TaskListLimit.Max).toBe(500);
    expect(query['offset'].schema).toMatchObject({ type: 'integer', minimum: 0 });
    expect(query['status'].schema['enum']).toEqual([...TASK_STATUSES]);
    expect(query['task_type'].schema['enum']).toEqual([...TASK_TYPES]);
    expect(query['cursor'].schema).toMatchObject({
      type: 'string',
      description: expect.stringMatching(/next_cursor.*Not with a non-zero `offset`/s),
    });
    const cursorPattern = new RegExp(String(query['cursor'].schema['pattern']));
    expect(
      ['1', '42', '18446744073709551615'].map((id) =>
        cursorPattern.test(encodeTaskCursor({ createdAtMs: 253_402_300_799_999, id })),
      ),
    ).toEqual([true, true, true]);
    expect(cursorPattern.test('MTIz=')).toBe(false);
    expect(query['offset'].schema['description']).toMatch(/Not with `cursor`/);
  });

  it('describes the page of GET /api/tasks: next_cursor, and total exact or null beyond its bound', () => {
    const list = operation('get', '/api/tasks');
    const page = resolve(list.responses['200'].content?.['application/json'].schema);
    expect(page.required).toEqual(['items', 'total', 'limit', 'offset', 'next_cursor']);
    expect(page.properties?.['next_cursor']).toMatchObject({
      type: 'string',
      nullable: true,
      description: expect.stringMatching(/`cursor`.*null when this page is the last/),
    });
    expect(page.properties?.['total']).toMatchObject({
      type: 'integer',
      nullable: true,
      description: expect.stringMatching(/exact, on offset pages; null on cursor pages.*count\/all/s),
    });
    expect(list['description' as keyof Operation]).toMatch(/cursor/);
  });

  it('lists the query parameters of GET /api/tasks/count/all', () => {
    const parameters = operation('get', '/api/tasks/count/all').parameters ?? [];
    expect(parameters.map((parameter) => `${parameter.in} ${parameter.name}`).sort()).toEqual([
      'query status',
      'query task_type',
    ]);
  });

  it('describes task_id as a required UUID path parameter', () => {
    for (const [method, path] of [
      ['get', '/api/tasks/{task_id}'],
      ['post', '/api/tasks/{task_id}/cancel'],
    ]) {
      const parameters = (operation(method, path).parameters ?? []).filter((parameter) => parameter.in === 'path');
      expect(parameters).toEqual([
        expect.objectContaining({
          name: 'task_id',
          in: 'path',
          required: true,
          schema: expect.objectContaining({ format: 'uuid' }),
        }),
      ]);
    }
  });

  it('documents wait on GET /api/tasks/{task_id}: 0 to 60 seconds', () => {
    expect(operation('get', '/api/tasks/{task_id}').parameters).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 'wait',
          in: 'query',
          required: false,
          schema: { type: 'integer', minimum: 0, maximum: 60 },
        }),
      ]),
    );
    const resource = resolve(schemaRef(SchemaName.TaskResource) as SchemaLike);
    expect(resource.required).toEqual(expect.arrayContaining(['progress', 'progress_message']));
  });

  const declaredErrors: Array<[string, string, number[]]> = [
    ['post', '/api/tasks/enqueue', [400, 409, 415, 503]],
    ['post', '/api/tasks/enqueue/batch', [400, 409, 413, 415, 503]],
    ['get', '/api/tasks/count/all', [400, 503]],
    ['get', '/api/tasks', [400, 503]],
    ['get', '/api/tasks/{task_id}', [400, 404, 503]],
    ['post', '/api/tasks/{task_id}/cancel', [400, 404, 409, 503]],
    ['get', '/api/tasks/{task_id}/runs', [400, 404, 503]],
    ['post', '/api/tasks/{task_id}/retry', [400, 404, 409, 503]],
  ];

  it.each(declaredErrors)('%s %s documents its errors %j with the error schema', (method, path, statuses) => {
    const responses = operation(method, path).responses;
    // 401 and 403 (API keys) are added to every operation; checked below.
    const errors = Object.keys(responses)
      .map(Number)
      .filter((status) => status >= 400 && status !== 401 && status !== 403);
    expect(errors.sort()).toEqual([...statuses].sort());
    for (const status of statuses) {
      const schema = responses[String(status)].content?.['application/json']?.schema;
      expect({ status, schema }).toEqual({ status, schema: ERROR_REF });
    }
  });

  describe('security (API keys)', () => {
    const operations = (): Array<{ method: string; path: string; operation: Operation & Record<string, unknown> }> =>
      Object.entries(document.paths).flatMap(([path, item]) =>
        Object.entries(item as Record<string, Operation & Record<string, unknown>>)
          .filter(([method]) => ['get', 'put', 'post', 'delete', 'patch'].includes(method))
          .map(([method, operation]) => ({ method, path, operation })),
      );

    it('declares a bearer scheme and an X-API-Key header scheme', () => {
      expect(document.components?.securitySchemes).toEqual({
        bearer: expect.objectContaining({ type: 'http', scheme: 'bearer' }),
        api_key: expect.objectContaining({ type: 'apiKey', in: 'header', name: 'X-API-Key' }),
      });
    });

    it('requires either scheme on every task endpoint, documenting 401 (and 403 on writes)', () => {
      const tasks = operations().filter(
        ({ path }) => path.startsWith('/api/tasks') || path.startsWith('/api/schedules'),
      );
      expect(tasks.length).toBeGreaterThanOrEqual(10);
      for (const { method, path, operation } of tasks) {
        expect({ method, path, security: operation['security'] }).toEqual({
          method,
          path,
          security: [{ bearer: [] }, { api_key: [] }],
        });
        const statuses = Object.keys(operation.responses);
        expect({ method, path, has401: statuses.includes('401') }).toEqual({ method, path, has401: true });
        expect({ method, path, has403: statuses.includes('403') }).toEqual({ method, path, has403: method !== 'get' });
        expect(operation.responses['401'].content?.['application/json']?.schema).toEqual(ERROR_REF);
      }
    });

    it('keeps health and metrics open (security: []), without the marker extension', () => {
      const ops = operations().filter(({ path }) => !path.startsWith('/api/'));
      expect(ops.map(({ path }) => path).sort()).toEqual(['/health/live', '/health/ready', '/metrics']);
      for (const { operation } of ops) {
        expect(operation['security']).toEqual([]);
        expect(Object.keys(operation).filter((key) => key.startsWith('x-'))).toEqual([]);
        expect(Object.keys(operation.responses)).not.toContain('401');
      }
    });
  });

  it('the error schema names the fields every error body has', () => {
    expect(resolve(ERROR_REF).required).toEqual(['statusCode', 'error', 'message']);
  });

  it('GET /health/ready documents 200 and 503', () => {
    expect(Object.keys(operation('get', '/health/ready').responses).sort()).toEqual(['200', '503']);
  });

  it('GET /metrics produces text/plain', () => {
    const responses = operation('get', '/metrics').responses;
    expect(Object.keys(responses['200'].content ?? {})).toEqual(['text/plain']);
  });
});
