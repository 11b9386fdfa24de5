import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskCommand, TaskResource, ValidEnqueueTask, newTaskId } from '@tasklane/contracts';
import { TaskMetrics } from '@tasklane/observability';
import { NewTask, TaskOutboxRepository } from '@tasklane/persistence';
import { PendingTaskWriter } from '../pending-task.writer';
import { toPendingTaskResource } from '../task-resource.mapper';
import { TaskDispatcher } from './task-dispatcher';

const NOT_ENQUEUED = 'the task was not enqueued';

function newTaskOf(request: ValidEnqueueTask, createdAt: Date, actor: string): NewTask {
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
  };
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
 */
@Injectable()
export class EnqueueTasks {
  private readonly logger = new Logger(EnqueueTasks.name);

  constructor(
    @Inject(PendingTaskWriter) private readonly writer: PendingTaskWriter,
    @Inject(TaskOutboxRepository) private readonly outbox: Pick<TaskOutboxRepository, 'insertPendingBatch'>,
    @Inject(TaskDispatcher) private readonly dispatcher: TaskDispatcher,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {}

  async one(request: ValidEnqueueTask, actor: string): Promise<TaskResource> {
    this.dispatcher.requireBroker(NOT_ENQUEUED);
    // Committed together with the rows of concurrent enqueues (one multi-row INSERT under load).
    const task = toPendingTaskResource(await this.writer.insert(newTaskOf(request, new Date(), actor)));
    this.dispatcher.crashIfTesting();
    await this.dispatcher.dispatch(commandOf(task, request));
    this.count(task);
    this.logger.log({
      message: 'task enqueued',
      task_id: task.task_id,
      task_name: task.task_name,
      priority: task.priority,
    });
    return task;
  }

  /**
   * All or nothing: every row is committed as `pending` in one transaction (a multi-row INSERT
   * into the outbox), then the commands are published together, each confirmed, and their
   * dispatch recorded. Returns the tasks in the order given.
   */
  async batch(requests: readonly ValidEnqueueTask[], actor: string): Promise<TaskResource[]> {
    this.dispatcher.requireBroker(NOT_ENQUEUED);
    const createdAt = new Date();
    const rows = await this.outbox.insertPendingBatch(requests.map((request) => newTaskOf(request, createdAt, actor)));
    const tasks = rows.map(toPendingTaskResource);
    this.dispatcher.crashIfTesting();
    await Promise.all(tasks.map((task, index) => this.dispatcher.dispatch(commandOf(task, requests[index]))));
    tasks.forEach((task) => this.count(task));
    // One line for the batch; it names every task, so a search for a task_id still finds its enqueue.
    this.logger.log({ message: 'tasks enqueued (batch)', count: tasks.length, task_ids: tasks.map((t) => t.task_id) });
    return tasks;
  }

  private count(task: TaskResource): void {
    this.metrics.enqueued.inc({ task_type: task.task_type, priority: String(task.priority) });
  }
}
