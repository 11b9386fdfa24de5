import { ConflictException, Inject, Injectable, Logger } from '@nestjs/common';
import { TaskCommand, TaskResource, ValidEnqueueTask, newTaskId } from '@tasklane/contracts';
import { TaskMetrics } from '@tasklane/observability';
import { IdempotencyKeyMismatch, NewTask, PendingInsert, TaskOutboxRepository } from '@tasklane/persistence';
import { GatewayEnv } from '../../gateway.env';
import { requestFingerprint } from '../idempotency/request-fingerprint';
import { PendingTaskWriter } from '../pending-task.writer';
import { toPendingTaskResource } from '../task-resource.mapper';
import { TaskDispatcher } from './task-dispatcher';
import { TaskQueries } from './task-queries.service';

const NOT_ENQUEUED = 'the task was not enqueued';

/** What an enqueue answered: the tasks, and whether it created any (201) or only found them by key (200). */
export interface EnqueueOutcome<T> {
  result: T;
  created: boolean;
}

function commandOf(task: TaskResource, request: ValidEnqueueTask): TaskCommand {
  return {
    task_id: task.task_id,
    task_name: task.task_name,
    task_type: task.task_type,
    params: request.params as never,
    priority: task.priority,
    max_retries: task.max_retries,
    retry_count: 0,
    timeout_ms: task.timeout_ms,
  };
}

/**
 * POST /api/tasks/enqueue and /enqueue/batch. A task is committed as `pending` — in the outbox
 * from that moment, so it will run — before its command is published and confirmed: a 201 means
 * it runs even if the publish fails after the commit (the relay publishes it). When RabbitMQ is
 * known to be down, nothing is written and the answer is 503.
 *
 * A task with a `run_at` ahead is committed with nothing published: the tracker's due relay
 * publishes it once due (ADR 0012). A task under an idempotency key is inserted only if the key
 * is new for its caller: otherwise the key's task comes back (200) — or a 409 when the key was
 * used for a different request — and nothing is written or published.
 */
@Injectable()
export class EnqueueTasks {
  private readonly logger = new Logger(EnqueueTasks.name);

  constructor(
    @Inject(PendingTaskWriter) private readonly writer: PendingTaskWriter,
    @Inject(TaskOutboxRepository)
    private readonly outbox: Pick<TaskOutboxRepository, 'insertPendingBatch' | 'insertPendingOnce'>,
    @Inject(TaskDispatcher) private readonly dispatcher: TaskDispatcher,
    @Inject(TaskQueries) private readonly queries: Pick<TaskQueries, 'get' | 'getMany'>,
    @Inject(GatewayEnv) private readonly env: Pick<GatewayEnv, 'IDEMPOTENCY_KEY_RETENTION_MS'>,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {}

  /** `keyField` names where the request's idempotency key came from (the body field or the header). */
  async one(
    request: ValidEnqueueTask,
    actor: string,
    keyField = 'idempotency_key',
  ): Promise<EnqueueOutcome<TaskResource>> {
    this.dispatcher.requireBroker(NOT_ENQUEUED);
    const task = this.newTaskOf(request, new Date(), actor);
    if (task.idempotency) {
      const [outcome] = await this.insertOnce([task], () => keyField);
      if (!outcome.created) {
        return { result: await this.queries.get(outcome.existing.taskId), created: false };
      }
    } else {
      // Committed together with the rows of concurrent enqueues (one multi-row INSERT under load).
      await this.writer.insert(task);
    }
    const resource = toPendingTaskResource(task);
    this.dispatcher.crashIfTesting();
    await this.dispatchUnlessScheduled(task, resource, request);
    this.count(resource);
    this.logger.log({
      message: task.dueAt ? 'task scheduled' : 'task enqueued',
      task_id: resource.task_id,
      task_name: resource.task_name,
      priority: resource.priority,
      ...(task.dueAt ? { run_at: resource.run_at } : {}),
    });
    return { result: resource, created: true };
  }

  /**
   * All or nothing: every new row is committed as `pending` in one transaction (a multi-row
   * INSERT into the outbox), then the commands of those due now are published together, each
   * confirmed, and their dispatch recorded. An item whose idempotency key is known returns the
   * key's task; two items under one key are one task (409 if they differ). Returns the tasks in
   * the order given.
   */
  async batch(requests: readonly ValidEnqueueTask[], actor: string): Promise<EnqueueOutcome<TaskResource[]>> {
    this.dispatcher.requireBroker(NOT_ENQUEUED);
    const createdAt = new Date();
    const items = requests.map((request) => this.newTaskOf(request, createdAt, actor));
    // Items repeating an earlier item's key are that item (the same request) or a conflict.
    const firstOfKey = new Map<string, number>();
    const sameAs = items.map((item, index) => {
      if (!item.idempotency) {
        return index;
      }
      const first = firstOfKey.get(item.idempotency.key);
      if (first === undefined) {
        firstOfKey.set(item.idempotency.key, index);
        return index;
      }
      if (items[first].idempotency?.fingerprint !== item.idempotency.fingerprint) {
        throw keyConflict(`tasks[${index}].idempotency_key`, item.idempotency.key, `tasks[${first}]`);
      }
      return first;
    });
    const indexOf = new Map(items.map((item, index) => [item, index]));
    const unique = items.filter((_item, index) => sameAs[index] === index);
    const outcomes: PendingInsert[] =
      firstOfKey.size === 0
        ? (await this.outbox.insertPendingBatch(unique)).map((task) => ({ created: true, task }))
        : await this.insertOnce(unique, (index) => `tasks[${indexOf.get(unique[index])}].idempotency_key`);
    const byItem = new Map(unique.map((item, index) => [item, outcomes[index]]));
    const created = outcomes.flatMap((outcome) => (outcome.created ? [outcome.task] : []));
    const createdResources = new Map(created.map((task) => [task.taskId, toPendingTaskResource(task)]));
    this.dispatcher.crashIfTesting();
    await Promise.all(
      created.map((task) =>
        this.dispatchUnlessScheduled(
          task,
          createdResources.get(task.taskId) as TaskResource,
          requests[indexOf.get(task) as number],
        ),
      ),
    );
    createdResources.forEach((resource) => this.count(resource));
    // The tasks found by their keys, in one read.
    const known = outcomes.flatMap((outcome) => (outcome.created ? [] : [outcome.existing.taskId]));
    const found = known.length === 0 ? new Map<string, TaskResource>() : await this.queries.getMany(known);
    const tasks = items.map((item, index) => {
      const outcome = byItem.get(items[sameAs[index]]) as PendingInsert;
      return outcome.created
        ? (createdResources.get(outcome.task.taskId) as TaskResource)
        : (found.get(outcome.existing.taskId) as TaskResource);
    });
    // One line for the batch; it names every task, so a search for a task_id still finds its enqueue.
    this.logger.log({
      message: 'tasks enqueued (batch)',
      count: created.length,
      task_ids: created.map((task) => task.taskId),
      ...(found.size > 0 ? { found_by_key: [...found.keys()] } : {}),
    });
    return { result: tasks, created: created.length > 0 };
  }

  private async insertOnce(tasks: NewTask[], fieldOf: (index: number) => string): Promise<PendingInsert[]> {
    try {
      return await this.outbox.insertPendingOnce(tasks);
    } catch (error) {
      if (error instanceof IdempotencyKeyMismatch) {
        throw keyConflict(fieldOf(error.index), error.existing.key, `task ${error.existing.taskId}`);
      }
      throw error;
    }
  }

  private newTaskOf(request: ValidEnqueueTask, createdAt: Date, actor: string): NewTask {
    // `delay_ms` counts from the task's creation (so run_at − created_at is exactly it).
    const runAt = request.delay_ms === null ? request.run_at : new Date(createdAt.getTime() + request.delay_ms);
    const due = runAt !== null && runAt.getTime() > createdAt.getTime();
    return {
      taskId: newTaskId(createdAt.getTime()),
      taskName: request.task_name,
      taskType: request.task_type,
      priority: request.priority,
      params: request.params,
      maxRetries: request.max_retries,
      timeoutMs: request.timeout_ms,
      createdAt,
      actor,
      runAt,
      dueAt: due ? runAt : null,
      idempotency:
        request.idempotency_key === null
          ? null
          : {
              scope: actor,
              key: request.idempotency_key,
              fingerprint: requestFingerprint(request),
              expiresAt: new Date(createdAt.getTime() + this.env.IDEMPOTENCY_KEY_RETENTION_MS),
            },
    };
  }

  /** Publishes a new task's command, unless it is scheduled for later (the due relay's job then). */
  private async dispatchUnlessScheduled(task: NewTask, resource: TaskResource, request: ValidEnqueueTask) {
    if (!task.dueAt) {
      await this.dispatcher.dispatch(commandOf(resource, request));
    }
  }

  private count(task: TaskResource): void {
    this.metrics.enqueued.inc({ task_type: task.task_type, priority: String(task.priority) });
  }
}

/** 409: `key` already stands for another request (`other`); `field` names where the key was given. */
function keyConflict(field: string, key: string, other: string): ConflictException {
  return new ConflictException({
    statusCode: 409,
    error: 'Conflict',
    message:
      `Idempotency key ${JSON.stringify(key)} (${field}) was already used for a different request (${other}); ` +
      'use a new key for a new request',
    field,
  });
}
