import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import {
  CountTasksQuery,
  EnqueueBatchResult,
  GetTaskQuery,
  IDEMPOTENCY_KEY_PATTERN,
  IdempotencyKeyLength,
  ListTaskEventsQuery,
  ListTasksQuery,
  RetryFailedResult,
  RetryFailedTasksRequest,
  TaskEventListLimit,
  TaskEventPage,
  TaskCount,
  TaskListLimit,
  TaskPage,
  TaskResource,
  TaskRunResource,
  ValidEnqueueTask,
} from '@tasklane/contracts';
import { ApiErrors, ApiQueryFrom } from '../openapi/openapi.decorators';
import {
  COUNT_QUERY_SCHEMA,
  EVENTS_QUERY_SCHEMA,
  GET_QUERY_SCHEMA,
  LIST_QUERY_SCHEMA,
  SchemaName,
  TASK_RUNS_SCHEMA,
  schemaRef,
} from '../openapi/openapi.schemas';
import { Actor } from '../auth/actor.decorator';
import { invalidRequest } from '../http/api-errors';
import {
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAY_HEADER,
  IdempotencyKeyHeader,
} from './idempotency/idempotency-key.decorator';
import { EnqueueBatchPipe } from './enqueue-batch.pipe';
import { EnqueueTaskPipe } from './enqueue-task.pipe';
import { TaskIdPipe } from './task-id.pipe';
import { CancelTask } from './use-cases/cancel-task.use-case';
import { EnqueueTasks } from './use-cases/enqueue-tasks.use-case';
import { RetryFailedTasks } from './use-cases/retry-failed-tasks.use-case';
import { RetryTask } from './use-cases/retry-task.use-case';
import { toListFilter } from './task-filter';
import { TaskQueries } from './use-cases/task-queries.service';
import { WaitForTask } from './use-cases/wait-for-task.use-case';

const TASK_ID_PARAM = { name: 'task_id', schema: { type: 'string', format: 'uuid' } } as const;

const IDEMPOTENCY_KEY_DOC = {
  name: IDEMPOTENCY_KEY_HEADER,
  required: false,
  description:
    'Makes the enqueue idempotent, like the `idempotency_key` field: the same key again (same caller, within ' +
    'IDEMPOTENCY_KEY_RETENTION_MS, 24 h by default) returns the task the first request created — 200, with ' +
    '`Idempotent-Replayed: true` — and writes and publishes nothing; with a different request it is a 409.',
  schema: {
    type: 'string',
    minLength: IdempotencyKeyLength.Min,
    maxLength: IdempotencyKeyLength.Max,
    pattern: IDEMPOTENCY_KEY_PATTERN.source,
  },
} as const;

/** 201 when the enqueue created a task, 200 (and the replay header) when it only found them by key. */
function answerCreated(reply: FastifyReply, created: boolean): void {
  if (!created) {
    void reply.status(200).header(IDEMPOTENT_REPLAY_HEADER, 'true');
  }
}

@ApiTags('tasks')
@Controller('api/tasks')
export class TasksController {
  constructor(
    @Inject(EnqueueTasks) private readonly enqueueTasks: EnqueueTasks,
    @Inject(TaskQueries) private readonly queries: TaskQueries,
    @Inject(CancelTask) private readonly cancelTask: CancelTask,
    @Inject(RetryTask) private readonly retryTask: RetryTask,
    @Inject(RetryFailedTasks) private readonly retryFailed: RetryFailedTasks,
    @Inject(WaitForTask) private readonly waitForTask: WaitForTask,
  ) {}

  @Post('enqueue')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Enqueue a task',
    description:
      'A 201 means the task is committed and will run — at once, or not before `run_at` (or `delay_ms` from now) ' +
      'when given: it is pending until then, and a cancel before then means it never starts. Under an ' +
      'idempotency key (`Idempotency-Key` header or `idempotency_key` field) a repeated request returns the ' +
      "first one's task with 200; the same key with a different request is a 409 naming it.",
  })
  @ApiHeader(IDEMPOTENCY_KEY_DOC)
  @ApiBody({ schema: schemaRef(SchemaName.EnqueueTaskRequest) })
  @ApiResponse({ status: 201, description: 'The task, pending.', schema: schemaRef(SchemaName.TaskResource) })
  @ApiResponse({
    status: 200,
    description: 'The task an earlier request under the same idempotency key created (as it is now).',
    schema: schemaRef(SchemaName.TaskResource),
  })
  @ApiErrors(400, 409, 415, 503)
  async enqueue(
    @Body(EnqueueTaskPipe) task: ValidEnqueueTask,
    @IdempotencyKeyHeader() headerKey: string | null,
    @Actor() actor: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResource> {
    if (headerKey !== null && task.idempotency_key !== null && task.idempotency_key !== headerKey) {
      throw invalidRequest([
        { field: 'idempotency_key', message: `idempotency_key differs from the ${IDEMPOTENCY_KEY_HEADER} header` },
      ]);
    }
    const outcome =
      headerKey === null
        ? await this.enqueueTasks.one(task, actor)
        : await this.enqueueTasks.one({ ...task, idempotency_key: headerKey }, actor, IDEMPOTENCY_KEY_HEADER);
    answerCreated(reply, outcome.created);
    return outcome.result;
  }

  @Post('enqueue/batch')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Enqueue up to 1,000 tasks at once, all or nothing',
    description:
      'Each item is validated like a single enqueue; one bad item rejects the whole batch with a 400 naming each ' +
      'bad field with its index (`tasks[3].params.to`), and nothing is written or published. A 201 means every ' +
      'task is committed (one transaction) and will run; the tasks come back in the order given. Each item ' +
      'may have its own `run_at`/`delay_ms` and `idempotency_key`: an item whose key is known comes back as the ' +
      "key's task (nothing written for it); two items under one key are one task; a key used for a different " +
      'request is a 409 naming the item, and nothing of the batch is written.',
  })
  @ApiBody({ schema: schemaRef(SchemaName.EnqueueBatchRequest) })
  @ApiResponse({
    status: 201,
    description: 'The tasks, pending, in order.',
    schema: schemaRef(SchemaName.EnqueueBatchResponse),
  })
  @ApiResponse({
    status: 200,
    description: 'Every item was found by its idempotency key: the tasks earlier requests created, in order.',
    schema: schemaRef(SchemaName.EnqueueBatchResponse),
  })
  @ApiErrors(400, 409, 413, 415, 503)
  async enqueueBatch(
    @Body(EnqueueBatchPipe) tasks: ValidEnqueueTask[],
    @IdempotencyKeyHeader() headerKey: string | null,
    @Actor() actor: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<EnqueueBatchResult> {
    if (headerKey !== null) {
      throw invalidRequest([
        {
          field: IDEMPOTENCY_KEY_HEADER,
          message: `a batch takes no ${IDEMPOTENCY_KEY_HEADER} header: give each item its own idempotency_key`,
        },
      ]);
    }
    const outcome = await this.enqueueTasks.batch(tasks, actor);
    answerCreated(reply, outcome.created);
    return { tasks: outcome.result };
  }

  @Get('count/all')
  @ApiOperation({ summary: 'Count tasks, optionally by status and task type' })
  @ApiQueryFrom(COUNT_QUERY_SCHEMA)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.TaskCount) })
  @ApiErrors(400, 503)
  count(@Query() query: CountTasksQuery): Promise<TaskCount> {
    return this.queries.count({ status: query.status, taskType: query.task_type });
  }

  @Get()
  @ApiOperation({
    summary: 'List tasks, newest first',
    description:
      'Page with `offset` (skips that many tasks), or with `cursor`: the `next_cursor` of the previous page, ' +
      'which starts right after its last task however many tasks arrived meanwhile, and costs the same on ' +
      'every page. `next_cursor` is null on the last page. `total` is exact on offset pages and null on ' +
      'cursor pages, which never count (GET /api/tasks/count/all does).',
  })
  @ApiQueryFrom(LIST_QUERY_SCHEMA)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.TaskPage) })
  @ApiErrors(400, 503)
  list(@Query() query: ListTasksQuery): Promise<TaskPage> {
    return this.queries.list(toListFilter(query), {
      limit: query.limit ?? TaskListLimit.Default,
      offset: query.offset ?? 0,
      cursor: query.cursor,
    });
  }

  @Post('retry-failed')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Re-queue the failed tasks matching a filter',
    description:
      'The failed tasks matching the filter (the list filters; `status` may only be `failed`), newest first, up ' +
      'to `limit` (default 50), each re-queued like POST /{task_id}/retry. `more` says whether more matched: ' +
      'ask again to retry the next ones.',
  })
  @ApiBody({ schema: schemaRef(SchemaName.RetryFailedRequest) })
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.RetryFailedResult) })
  @ApiErrors(400, 415, 503)
  retryFailedTasks(@Body() body: RetryFailedTasksRequest, @Actor() actor: string): Promise<RetryFailedResult> {
    return this.retryFailed.execute(toListFilter(body), body.limit ?? TaskListLimit.Default, actor);
  }

  @Get(':task_id')
  @ApiOperation({
    summary: 'Get a task — or wait for it to finish',
    description:
      'With `wait=N` (seconds, up to 60) the answer comes as soon as the task is completed, failed or cancelled, ' +
      'or with the task as it is after N seconds (check `status`). Waiting clients cost no database read each: ' +
      'the gateway looks for all of them at once every TASK_WAIT_POLL_INTERVAL_MS (200 ms). 503 when ' +
      'TASK_WAIT_MAX_CLIENTS clients already wait on this gateway.',
  })
  @ApiParam(TASK_ID_PARAM)
  @ApiQueryFrom(GET_QUERY_SCHEMA)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.TaskResource) })
  @ApiErrors(400, 404, 503)
  async get(
    @Param('task_id', TaskIdPipe) taskId: string,
    @Query() query: GetTaskQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TaskResource> {
    const waitMs = (query.wait ?? 0) * 1_000;
    if (waitMs === 0) {
      return this.queries.get(taskId);
    }
    const clientGone = new AbortController();
    const onClose = () => clientGone.abort();
    reply.raw.once('close', onClose);
    try {
      return await this.waitForTask.execute(taskId, waitMs, clientGone.signal);
    } finally {
      reply.raw.off('close', onClose);
    }
  }

  @Get(':task_id/runs')
  @ApiOperation({ summary: 'Earlier runs of a task', description: 'Each run as it ended before a retry re-queued it.' })
  @ApiParam(TASK_ID_PARAM)
  @ApiResponse({ status: 200, schema: TASK_RUNS_SCHEMA })
  @ApiErrors(400, 404, 503)
  runs(@Param('task_id', TaskIdPipe) taskId: string): Promise<TaskRunResource[]> {
    return this.queries.runs(taskId);
  }

  @Get(':task_id/events')
  @ApiOperation({
    summary: "A task's history, oldest first",
    description:
      'One event per transition — enqueued, started (by which worker, which attempt), retrying (with the error), ' +
      'succeeded, failed, cancelled or retried (by whom), released, lease_reclaimed, redispatched, aged (published ' +
      'again above every priority after waiting past the aging bound) — each written in ' +
      'the transaction that made it. Keyset-paged: pass `next_cursor` as `cursor`; a null `next_cursor` means no ' +
      'later event so far (poll again with the last `event_id` to follow a task). Deleted with the task by retention.',
  })
  @ApiParam(TASK_ID_PARAM)
  @ApiQueryFrom(EVENTS_QUERY_SCHEMA)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.TaskEventPage) })
  @ApiErrors(400, 404, 503)
  events(@Param('task_id', TaskIdPipe) taskId: string, @Query() query: ListTaskEventsQuery): Promise<TaskEventPage> {
    return this.queries.events(taskId, { limit: query.limit ?? TaskEventListLimit.Default, cursor: query.cursor });
  }

  @Post(':task_id/retry')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Re-queue a failed or cancelled task',
    description: 'A new run of the same task (same task_id and retry_count); the previous run is kept in /runs.',
  })
  @ApiParam(TASK_ID_PARAM)
  @ApiResponse({ status: 200, description: 'The task, pending again.', schema: schemaRef(SchemaName.TaskResource) })
  @ApiErrors(400, 404, 409, 503)
  retry(@Param('task_id', TaskIdPipe) taskId: string, @Actor() actor: string): Promise<TaskResource> {
    return this.retryTask.execute(taskId, actor);
  }

  @Post(':task_id/cancel')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Cancel a pending or running task',
    description: 'A cancelled task never starts; a running one is aborted and never completes.',
  })
  @ApiParam(TASK_ID_PARAM)
  @ApiResponse({ status: 200, description: 'The task, now cancelled.', schema: schemaRef(SchemaName.TaskResource) })
  @ApiErrors(400, 404, 409, 503)
  cancel(@Param('task_id', TaskIdPipe) taskId: string, @Actor() actor: string): Promise<TaskResource> {
    return this.cancelTask.execute(taskId, actor);
  }
}
