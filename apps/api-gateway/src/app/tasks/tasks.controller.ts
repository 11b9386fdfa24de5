import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  CountTasksQuery,
  EnqueueBatchResult,
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
  LIST_QUERY_SCHEMA,
  SchemaName,
  TASK_RUNS_SCHEMA,
  schemaRef,
} from '../openapi/openapi.schemas';
import { Actor } from '../auth/actor.decorator';
import { EnqueueBatchPipe } from './enqueue-batch.pipe';
import { EnqueueTaskPipe } from './enqueue-task.pipe';
import { TaskIdPipe } from './task-id.pipe';
import { CancelTask } from './use-cases/cancel-task.use-case';
import { EnqueueTasks } from './use-cases/enqueue-tasks.use-case';
import { RetryFailedTasks } from './use-cases/retry-failed-tasks.use-case';
import { RetryTask } from './use-cases/retry-task.use-case';
import { toListFilter } from './task-filter';
import { TaskQueries } from './use-cases/task-queries.service';

const TASK_ID_PARAM = { name: 'task_id', schema: { type: 'string', format: 'uuid' } } as const;

@ApiTags('tasks')
@Controller('api/tasks')
export class TasksController {
  constructor(
    @Inject(EnqueueTasks) private readonly enqueueTasks: EnqueueTasks,
    @Inject(TaskQueries) private readonly queries: TaskQueries,
    @Inject(CancelTask) private readonly cancelTask: CancelTask,
    @Inject(RetryTask) private readonly retryTask: RetryTask,
    @Inject(RetryFailedTasks) private readonly retryFailed: RetryFailedTasks,
  ) {}

  @Post('enqueue')
  @HttpCode(201)
  @ApiOperation({ summary: 'Enqueue a task', description: 'A 201 means the task is committed and will run.' })
  @ApiBody({ schema: schemaRef(SchemaName.EnqueueTaskRequest) })
  @ApiResponse({ status: 201, description: 'The task, pending.', schema: schemaRef(SchemaName.TaskResource) })
  @ApiErrors(400, 415, 503)
  enqueue(@Body(EnqueueTaskPipe) task: ValidEnqueueTask, @Actor() actor: string): Promise<TaskResource> {
    return this.enqueueTasks.one(task, actor);
  }

  @Post('enqueue/batch')
  @HttpCode(201)
  @ApiOperation({
    summary: 'Enqueue up to 1,000 tasks at once, all or nothing',
    description:
      'Each item is validated like a single enqueue; one bad item rejects the whole batch with a 400 naming each ' +
      'bad field with its index (`tasks[3].params.to`), and nothing is written or published. A 201 means every ' +
      'task is committed (one transaction) and will run; the tasks come back in the order given.',
  })
  @ApiBody({ schema: schemaRef(SchemaName.EnqueueBatchRequest) })
  @ApiResponse({
    status: 201,
    description: 'The tasks, pending, in order.',
    schema: schemaRef(SchemaName.EnqueueBatchResponse),
  })
  @ApiErrors(400, 413, 415, 503)
  async enqueueBatch(
    @Body(EnqueueBatchPipe) tasks: ValidEnqueueTask[],
    @Actor() actor: string,
  ): Promise<EnqueueBatchResult> {
    return { tasks: await this.enqueueTasks.batch(tasks, actor) };
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
  @ApiOperation({ summary: 'Get a task' })
  @ApiParam(TASK_ID_PARAM)
  @ApiResponse({ status: 200, schema: schemaRef(SchemaName.TaskResource) })
  @ApiErrors(400, 404, 503)
  get(@Param('task_id', TaskIdPipe) taskId: string): Promise<TaskResource> {
    return this.queries.get(taskId);
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
      'succeeded, failed, cancelled or retried (by whom), released, lease_reclaimed, redispatched — each written in ' +
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
