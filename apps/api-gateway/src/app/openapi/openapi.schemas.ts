import type { SchemaObject } from '@nestjs/swagger';
import { targetConstructorToSchema } from 'class-validator-jsonschema';
import {
  CountTasksQuery,
  GetTaskQuery,
  EnqueueBatchSize,
  EnqueueTaskDto,
  ListTaskEventsQuery,
  ListTasksQuery,
  RetryFailedTasksRequest,
  TASK_CATALOGUE,
  TASK_EVENT_CURSOR_PATTERN,
  TASK_HISTORY_EVENTS,
  TASK_CURSOR_PATTERN,
  TASK_NAMES,
  TASK_STATUSES,
  TASK_TYPES,
  CallerAccess,
  TaskListLimit,
  TaskDelay,
  TaskTimeout,
  IdempotencyKeyLength,
  IDEMPOTENCY_KEY_PATTERN,
  TaskEventListLimit,
  TaskProgress,
  ListSchedulesQuery,
  SCHEDULE_MISSED_POLICIES,
  SCHEDULE_OVERLAP_POLICIES,
  ScheduleOverlapPolicy,
  SCHEDULE_NAME_PATTERN,
  ScheduleFieldsDto,
  ScheduleListLimit,
  DEFAULT_SCHEDULE_TIMEZONE,
} from '@tasklane/contracts';

/**
 * JSON schema of a class-validator DTO, generated from the very decorators that validate
 * requests (unknown properties are rejected, so none are allowed).
 */
export function dtoSchema(dto: new () => object): SchemaObject {
  return { ...(targetConstructorToSchema(dto) as SchemaObject), additionalProperties: false };
}

/**
 * The named schemas of the document (`components.schemas`): generated clients get a type per
 * name instead of anonymous inline objects.
 */
export enum SchemaName {
  EnqueueTaskRequest = 'EnqueueTaskRequest',
  EnqueueBatchRequest = 'EnqueueBatchRequest',
  EnqueueBatchResponse = 'EnqueueBatchResponse',
  TaskResource = 'TaskResource',
  TaskPage = 'TaskPage',
  TaskRun = 'TaskRun',
  TaskCount = 'TaskCount',
  TaskEvent = 'TaskEvent',
  TaskEventPage = 'TaskEventPage',
  RetryFailedRequest = 'RetryFailedRequest',
  RetryFailedResult = 'RetryFailedResult',
  DashboardSummary = 'DashboardSummary',
  Caller = 'Caller',
  ErrorBody = 'ErrorBody',
  FieldError = 'FieldError',
  ScheduleRequest = 'ScheduleRequest',
  SchedulePatch = 'SchedulePatch',
  ScheduleResource = 'ScheduleResource',
  SchedulePage = 'SchedulePage',
}

/** A reference to a named schema (of {@link SchemaName}, or a task's params DTO). */
export function schemaRef(name: string): SchemaObject {
  return { $ref: `#/components/schemas/${name}` } as SchemaObject;
}

/** The component name of a task's params DTO: its class name (`SendEmailParams`). */
function paramsSchemaName(paramsClass: new () => object): string {
  return paramsClass.name;
}

const nullableTimestamp: SchemaObject = { type: 'string', format: 'date-time', nullable: true };

/** The body of POST /api/tasks/enqueue: the DTO, with `params` as one of the tasks' params DTOs. */
function enqueueBodySchema(): SchemaObject {
  const schema = dtoSchema(EnqueueTaskDto);
  return {
    ...schema,
    properties: {
      ...schema.properties,
      priority: {
        ...(schema.properties?.['priority'] as SchemaObject | undefined),
        description:
          '1–10, default 5; higher runs first. A task below 10 that has waited longer than the aging bound ' +
          '(TASK_AGING_AFTER_MS) behind higher priorities is served before all of them (ADR 0015).',
      },
      run_at: {
        type: 'string',
        format: 'date-time',
        description:
          'Not before this instant (ISO-8601 with a zone, at most 366 days ahead; past means now). Not with `delay_ms`.',
      },
      delay_ms: {
        type: 'integer',
        minimum: TaskDelay.MinMs,
        maximum: TaskDelay.MaxMs,
        description: 'Not before this many milliseconds from now. Not with `run_at`.',
      },
      idempotency_key: {
        type: 'string',
        minLength: IdempotencyKeyLength.Min,
        maxLength: IdempotencyKeyLength.Max,
        pattern: IDEMPOTENCY_KEY_PATTERN.source,
        description:
          'The same key again (same caller, within the retention window) returns the first request’s task (200) and ' +
          'writes nothing; with a different request it is a 409.',
      },
      params: {
        description: 'Validated against the params DTO of `task_name`.',
        oneOf: Object.values(TASK_CATALOGUE).map((definition) =>
          schemaRef(paramsSchemaName(definition.paramsClass as new () => object)),
        ),
      },
    },
  };
}

const TASK_RESOURCE_SCHEMA: SchemaObject = {
  type: 'object',
  required: [
    'task_id',
    'task_name',
    'task_type',
    'priority',
    'status',
    'params',
    'result',
    'error_message',
    'retry_count',
    'max_retries',
    'timeout_ms',
    'run',
    'created_at',
    'run_at',
    'progress',
    'progress_message',
    'started_at',
    'completed_at',
  ],
  properties: {
    task_id: { type: 'string', format: 'uuid' },
    task_name: { type: 'string', enum: [...TASK_NAMES] },
    task_type: { type: 'string', enum: [...TASK_TYPES] },
    priority: { type: 'integer', minimum: 1, maximum: 10 },
    status: { type: 'string', enum: [...TASK_STATUSES] },
    params: { type: 'object' },
    result: { nullable: true, description: "The handler's result (JSON) once completed." },
    error_message: { type: 'string', nullable: true },
    retry_count: { type: 'integer', minimum: 0 },
    max_retries: { type: 'integer', minimum: 0, maximum: 10 },
    timeout_ms: { type: 'integer', minimum: TaskTimeout.MinMs, maximum: TaskTimeout.MaxMs },
    run: { type: 'integer', minimum: 1, description: '1 for the first run, +1 per retry (see /runs).' },
    created_at: { type: 'string', format: 'date-time' },
    run_at: {
      ...nullableTimestamp,
      description: 'When the enqueue asked it to start (`run_at`, or `delay_ms` after it); null: at once.',
    },
    progress: {
      type: 'integer',
      minimum: TaskProgress.Min,
      maximum: TaskProgress.Max,
      nullable: true,
      description:
        "What the running attempt's handler last reported (percent), written at most a few times a second; " +
        'null until it reports; cleared when a new attempt starts.',
    },
    progress_message: { type: 'string', maxLength: TaskProgress.MessageMaxLength, nullable: true },
    started_at: nullableTimestamp,
    completed_at: nullableTimestamp,
  },
};

/** The body of POST /api/tasks/enqueue/batch: `{tasks: [...]}`, each item an enqueue body. */
function enqueueBatchBodySchema(): SchemaObject {
  return {
    type: 'object',
    required: ['tasks'],
    additionalProperties: false,
    properties: {
      tasks: {
        type: 'array',
        minItems: EnqueueBatchSize.Min,
        maxItems: EnqueueBatchSize.Max,
        description: 'Enqueue requests, each validated like a single enqueue; one bad item rejects the batch.',
        items: schemaRef(SchemaName.EnqueueTaskRequest),
      },
    },
  };
}

/** The answer of POST /api/tasks/enqueue/batch: the tasks created, in the order of the request. */
const ENQUEUE_BATCH_RESPONSE_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['tasks'],
  properties: { tasks: { type: 'array', items: schemaRef(SchemaName.TaskResource) } },
};

const TASK_RUN_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['run', 'status', 'retry_count', 'result', 'error_message', 'started_at', 'completed_at', 'archived_at'],
  properties: {
    run: { type: 'integer', minimum: 1 },
    status: { type: 'string', enum: [...TASK_STATUSES] },
    retry_count: { type: 'integer', minimum: 0 },
    result: { nullable: true },
    error_message: { type: 'string', nullable: true },
    started_at: nullableTimestamp,
    completed_at: nullableTimestamp,
    archived_at: { type: 'string', format: 'date-time' },
  },
};

/** GET /api/tasks/{task_id}/runs: the task's runs, oldest first. */
export const TASK_RUNS_SCHEMA: SchemaObject = { type: 'array', items: schemaRef(SchemaName.TaskRun) };

const TASK_EVENT_SCHEMA: SchemaObject = {
  type: 'object',
  description: 'One transition of a task, written in the transaction that made it.',
  required: ['event_id', 'event', 'run', 'attempt', 'retry_count', 'worker_id', 'actor', 'message', 'occurred_at'],
  properties: {
    event_id: { type: 'string', pattern: TASK_EVENT_CURSOR_PATTERN.source, description: 'Increasing position.' },
    event: { type: 'string', enum: [...TASK_HISTORY_EVENTS] },
    run: { type: 'integer', minimum: 1, description: '1, then +1 per POST /retry.' },
    attempt: { type: 'integer', minimum: 0, description: 'The claim generation the event belongs to.' },
    retry_count: { type: 'integer', minimum: 0 },
    worker_id: { type: 'string', nullable: true, description: 'The worker that started, gave back or finished it.' },
    actor: {
      type: 'string',
      nullable: true,
      description:
        'Who asked through the API (enqueued, cancelled, retried): `anonymous` without API keys, else `key:<id>`.',
    },
    message: { type: 'string', nullable: true, description: 'The error of a retry or a failure, or what happened.' },
    occurred_at: { type: 'string', format: 'date-time' },
  },
};

const TASK_EVENT_PAGE_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: { type: 'array', items: schemaRef(SchemaName.TaskEvent), description: 'Oldest first.' },
    next_cursor: {
      type: 'string',
      nullable: true,
      pattern: TASK_EVENT_CURSOR_PATTERN.source,
      description: 'Pass as `cursor` for the next page; null when this page holds the last event so far.',
    },
  },
};

export const EVENTS_QUERY_SCHEMA: SchemaObject = {
  ...dtoSchema(ListTaskEventsQuery),
  properties: {
    limit: { type: 'integer', minimum: TaskEventListLimit.Min, maximum: TaskEventListLimit.Max },
    cursor: {
      type: 'string',
      pattern: TASK_EVENT_CURSOR_PATTERN.source,
      description: 'The `next_cursor` of the previous page: the page starts right after that event.',
    },
  },
};

/** The body of POST /api/tasks/retry-failed: the list filters and a limit. */
const RETRY_FAILED_SCHEMA = dtoSchema(RetryFailedTasksRequest);

const RETRY_FAILED_RESULT_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['retried', 'more'],
  properties: {
    retried: { type: 'array', items: schemaRef(SchemaName.TaskResource), description: 'Re-queued, pending.' },
    more: { type: 'boolean', description: 'More failed tasks match: ask again.' },
  },
};

const count: SchemaObject = { type: 'integer', minimum: 0 };
const nullableCount: SchemaObject = { ...count, nullable: true };

const DASHBOARD_SUMMARY_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['counts', 'queues', 'throughput'],
  properties: {
    counts: {
      type: 'array',
      description: 'Tasks per (task type, status); cells with none left out.',
      items: {
        type: 'object',
        required: ['task_type', 'status', 'count'],
        properties: {
          task_type: { type: 'string', enum: [...TASK_TYPES] },
          status: { type: 'string', enum: [...TASK_STATUSES] },
          count,
        },
      },
    },
    queues: {
      type: 'array',
      items: {
        type: 'object',
        required: ['task_type', 'queue', 'ready', 'consumers'],
        properties: {
          task_type: { type: 'string', enum: [...TASK_TYPES] },
          queue: { type: 'string' },
          ready: { ...nullableCount, description: 'Messages ready; null while the broker is unreachable.' },
          consumers: nullableCount,
        },
      },
    },
    throughput: {
      type: 'object',
      required: ['interval_ms', 'samples'],
      properties: {
        interval_ms: count,
        samples: {
          type: 'array',
          description: 'Tasks finished per interval, oldest first, over the last minutes.',
          items: {
            type: 'object',
            required: ['at', 'completed', 'failed'],
            properties: { at: { type: 'string', format: 'date-time' }, completed: count, failed: count },
          },
        },
      },
    },
  },
};

const CALLER_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['access', 'actor', 'can_write'],
  properties: {
    access: { type: 'string', enum: Object.values(CallerAccess) },
    actor: { type: 'string', description: 'How task histories name this caller.' },
    can_write: { type: 'boolean' },
  },
};

const TASK_PAGE_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['items', 'total', 'limit', 'offset', 'next_cursor'],
  properties: {
    items: { type: 'array', items: schemaRef(SchemaName.TaskResource), description: 'Newest first.' },
    total: {
      type: 'integer',
      minimum: 0,
      nullable: true,
      description:
        'How many tasks match the filters (all pages), exact, on offset pages; null on cursor pages, which ' +
        'never count so that their cost does not grow with the matches (GET /api/tasks/count/all counts).',
    },
    limit: { type: 'integer', minimum: TaskListLimit.Min, maximum: TaskListLimit.Max },
    offset: { type: 'integer', minimum: 0 },
    next_cursor: {
      type: 'string',
      nullable: true,
      pattern: TASK_CURSOR_PATTERN.source,
      description: 'Pass as `cursor` for the next page (opaque); null when this page is the last.',
    },
  },
};

const TASK_COUNT_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['count'],
  properties: { count: { type: 'integer', minimum: 0 } },
};

const FIELD_ERROR_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['field', 'message'],
  properties: { field: { type: 'string' }, message: { type: 'string' } },
};

const ERROR_BODY_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['statusCode', 'error', 'message'],
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    errors: {
      type: 'array',
      description: 'On 400: each bad field and what is wrong with it.',
      items: schemaRef(SchemaName.FieldError),
    },
    status: { type: 'string', enum: [...TASK_STATUSES], description: 'On 409: the current status of the task.' },
    field: {
      type: 'string',
      description: 'On 409: the field at fault (an idempotency key already used, a schedule name taken).',
    },
  },
};

const LIST_QUERY_DESCRIPTIONS: Record<string, string> = {
  offset: 'Skip that many matching tasks (newest first). Not with `cursor`.',
  cursor:
    'The `next_cursor` of the previous page (opaque): the page starts right after its last task. ' +
    'Keyset pagination: as fast on every page, and tasks added meanwhile do not shift pages. Not with a non-zero `offset`.',
};

/** The list query: the DTO's schema, with what each paging parameter means. */
function listQuerySchema(): SchemaObject {
  const schema = dtoSchema(ListTasksQuery);
  const properties = (schema.properties ?? {}) as Record<string, SchemaObject>;
  return {
    ...schema,
    properties: Object.fromEntries(
      Object.entries(properties).map(([name, property]) => [
        name,
        name in LIST_QUERY_DESCRIPTIONS ? { ...property, description: LIST_QUERY_DESCRIPTIONS[name] } : property,
      ]),
    ),
  };
}

export const LIST_QUERY_SCHEMA = listQuerySchema();
export const SCHEDULE_LIST_QUERY_SCHEMA = dtoSchema(ListSchedulesQuery);

/** Enqueue fields a schedule's task does not take (each tick is its own time, once). */
const NOT_IN_A_SCHEDULE = new Set(['run_at', 'delay_ms', 'idempotency_key']);

/** The body of POST /api/schedules: the schedule's fields and the task of each tick (an enqueue body). */
function scheduleBodySchema(): SchemaObject {
  const schedule = dtoSchema(ScheduleFieldsDto);
  const task = enqueueBodySchema();
  const taskProperties = Object.entries((task.properties ?? {}) as Record<string, SchemaObject>).filter(
    ([name]) => !NOT_IN_A_SCHEDULE.has(name),
  );
  return {
    type: 'object',
    additionalProperties: false,
    required: [...(schedule.required ?? []), ...(task.required ?? [])],
    properties: {
      ...schedule.properties,
      cron: {
        type: 'string',
        description: 'Five fields (minute hour day-of-month month day-of-week), or six with seconds first, or @daily…',
        example: '0 3 * * *',
      },
      timezone: {
        type: 'string',
        description: 'IANA time zone the cron is read in.',
        default: DEFAULT_SCHEDULE_TIMEZONE,
      },
      missed: {
        type: 'string',
        enum: [...SCHEDULE_MISSED_POLICIES],
        default: SCHEDULE_MISSED_POLICIES[0],
        description: 'A tick missed while every tracker was down: fired once on recovery, or skipped.',
      },
      overlap: {
        type: 'string',
        enum: [...SCHEDULE_OVERLAP_POLICIES],
        default: ScheduleOverlapPolicy.Allow,
        description:
          "skip: no task for a tick while the previous tick's task is pending or running (at most one at a time; " +
          'such ticks fire at their time, within SCHEDULER_INTERVAL_MS). allow: every tick fires.',
      },
      enabled: { type: 'boolean', default: true, description: 'False: paused.' },
      ...Object.fromEntries(taskProperties),
    },
  };
}

/** The body of PATCH /api/schedules/{id}: any fields of the create body. */
function schedulePatchSchema(): SchemaObject {
  const schema = scheduleBodySchema();
  delete schema.required;
  return { ...schema, minProperties: 1 };
}

const SCHEDULE_RESOURCE_SCHEMA: SchemaObject = {
  type: 'object',
  required: [
    'schedule_id',
    'name',
    'cron',
    'timezone',
    'missed',
    'overlap',
    'enabled',
    'task_name',
    'task_type',
    'params',
    'priority',
    'max_retries',
    'timeout_ms',
    'next_run_at',
    'last_run_at',
    'last_task_id',
    'created_at',
    'updated_at',
  ],
  properties: {
    schedule_id: { type: 'string', format: 'uuid' },
    name: { type: 'string', pattern: SCHEDULE_NAME_PATTERN.source },
    cron: { type: 'string' },
    timezone: { type: 'string' },
    missed: { type: 'string', enum: [...SCHEDULE_MISSED_POLICIES] },
    overlap: { type: 'string', enum: [...SCHEDULE_OVERLAP_POLICIES] },
    enabled: { type: 'boolean' },
    task_name: { type: 'string', enum: [...TASK_NAMES] },
    task_type: { type: 'string', enum: [...TASK_TYPES] },
    params: { type: 'object' },
    priority: { type: 'integer', minimum: 1, maximum: 10 },
    max_retries: { type: 'integer', minimum: 0, maximum: 10 },
    timeout_ms: { type: 'integer', minimum: TaskTimeout.MinMs, maximum: TaskTimeout.MaxMs },
    next_run_at: { ...nullableTimestamp, description: 'The next tick that will fire; null while paused.' },
    last_run_at: { ...nullableTimestamp, description: 'The tick that fired last (the run_at of its task).' },
    last_task_id: { type: 'string', format: 'uuid', nullable: true, description: 'The task the last tick enqueued.' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
};

const SCHEDULE_PAGE_SCHEMA: SchemaObject = {
  type: 'object',
  required: ['items', 'next_cursor'],
  properties: {
    items: {
      type: 'array',
      maxItems: ScheduleListLimit.Max,
      items: schemaRef(SchemaName.ScheduleResource),
      description: 'By name.',
    },
    next_cursor: {
      type: 'string',
      nullable: true,
      description: 'Pass as `cursor` for the next page; null on the last.',
    },
  },
};
export const COUNT_QUERY_SCHEMA = dtoSchema(CountTasksQuery);
export const GET_QUERY_SCHEMA = dtoSchema(GetTaskQuery);

/** Every named schema of the document, for `components.schemas`. */
export function namedSchemas(): Record<string, SchemaObject> {
  const params = Object.fromEntries(
    Object.values(TASK_CATALOGUE).map((definition) => {
      const paramsClass = definition.paramsClass as new () => object;
      return [
        paramsSchemaName(paramsClass),
        { title: definition.name, description: definition.description, ...dtoSchema(paramsClass) },
      ];
    }),
  );
  const named: Record<SchemaName, SchemaObject> = {
    [SchemaName.EnqueueTaskRequest]: enqueueBodySchema(),
    [SchemaName.EnqueueBatchRequest]: enqueueBatchBodySchema(),
    [SchemaName.EnqueueBatchResponse]: ENQUEUE_BATCH_RESPONSE_SCHEMA,
    [SchemaName.TaskResource]: TASK_RESOURCE_SCHEMA,
    [SchemaName.TaskPage]: TASK_PAGE_SCHEMA,
    [SchemaName.TaskRun]: TASK_RUN_SCHEMA,
    [SchemaName.TaskCount]: TASK_COUNT_SCHEMA,
    [SchemaName.TaskEvent]: TASK_EVENT_SCHEMA,
    [SchemaName.TaskEventPage]: TASK_EVENT_PAGE_SCHEMA,
    [SchemaName.RetryFailedRequest]: RETRY_FAILED_SCHEMA,
    [SchemaName.RetryFailedResult]: RETRY_FAILED_RESULT_SCHEMA,
    [SchemaName.DashboardSummary]: DASHBOARD_SUMMARY_SCHEMA,
    [SchemaName.Caller]: CALLER_SCHEMA,
    [SchemaName.ErrorBody]: ERROR_BODY_SCHEMA,
    [SchemaName.FieldError]: FIELD_ERROR_SCHEMA,
    [SchemaName.ScheduleRequest]: scheduleBodySchema(),
    [SchemaName.SchedulePatch]: schedulePatchSchema(),
    [SchemaName.ScheduleResource]: SCHEDULE_RESOURCE_SCHEMA,
    [SchemaName.SchedulePage]: SCHEDULE_PAGE_SCHEMA,
  };
  return { ...params, ...named };
}
