import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import {
  TaskCommand,
  TaskControlType,
  TaskCount,
  TaskPage,
  TaskResource,
  TaskRunResource,
  TaskStatus,
  ValidEnqueueTask,
  newTaskId,
} from '@tasklane/contracts';
import { AmqpConnection, TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import {
  NewTask,
  TaskControlRepository,
  TaskCountRepository,
  TaskFilter,
  TaskOutboxRepository,
  TaskPageRequest,
  TaskQueryRepository,
} from '@tasklane/persistence';
import { GatewayEnv } from '../gateway.env';
import { DispatchRecorder } from './dispatch-recorder';
import { PendingTaskWriter } from './pending-task.writer';

const BROKER_DOWN = 'The message broker (RabbitMQ) is unavailable; the task was not enqueued. Retry later.';

function newTaskOf(request: ValidEnqueueTask, createdAt: Date): NewTask {
  return {
    taskId: newTaskId(createdAt.getTime()),
    taskName: request.task_name,
    taskType: request.task_type,
    priority: request.priority,
    params: request.params,
    maxRetries: request.max_retries,
    timeoutMs: request.timeout_ms,
    createdAt,
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

@Injectable()
export class TasksService {
  private readonly logger = new Logger(TasksService.name);

  constructor(
    @Inject(TaskOutboxRepository) private readonly outbox: TaskOutboxRepository,
    @Inject(TaskQueryRepository) private readonly queries: TaskQueryRepository,
    @Inject(TaskCountRepository) private readonly counts: TaskCountRepository,
    @Inject(TaskControlRepository) private readonly control: TaskControlRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(DispatchRecorder) private readonly dispatches: DispatchRecorder,
    @Inject(PendingTaskWriter) private readonly writer: PendingTaskWriter,
    @Inject(GatewayEnv) private readonly env: GatewayEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {}

  /**
   * Commits the task as `pending` — it is in the outbox from that moment, so it will run — then
   * publishes its command and waits for the broker's confirm, and records the dispatch in a
   * batch. If the publish fails after the commit, the outbox relay (status tracker) publishes it
   * later and the answer is still 201. When RabbitMQ is known to be down, nothing is written and
   * the answer is 503.
   */
  async enqueue(request: ValidEnqueueTask): Promise<TaskResource> {
    this.requireBroker();
    // Committed together with the rows of concurrent enqueues (one multi-row INSERT under load).
    const task = await this.writer.insert(newTaskOf(request, new Date()));
    this.crashIfTesting();
    await this.dispatch(commandOf(task, request));
    this.metrics.enqueued.inc({ task_type: task.task_type, priority: String(task.priority) });
    this.logger.log({
      message: 'task enqueued',
      task_id: task.task_id,
      task_name: task.task_name,
      priority: task.priority,
    });
    return task;
  }

  /**
   * Enqueues a batch all or nothing, with the guarantees of {@link enqueue}: every row is
   * committed as `pending` in one transaction (a multi-row INSERT into the outbox), then the
   * commands are published together, each confirmed by the broker, and their dispatch recorded.
   * A command the broker does not take stays in the outbox for the relay; the answer is still the
   * whole batch. Returns the tasks in the order given.
   */
  async enqueueBatch(requests: readonly ValidEnqueueTask[]): Promise<TaskResource[]> {
    this.requireBroker();
    const createdAt = new Date();
    const tasks = await this.outbox.insertPendingBatch(requests.map((request) => newTaskOf(request, createdAt)));
    this.crashIfTesting();
    await Promise.all(tasks.map((task, index) => this.dispatch(commandOf(task, requests[index]))));
    for (const task of tasks) {
      this.metrics.enqueued.inc({ task_type: task.task_type, priority: String(task.priority) });
    }
    // One line for the batch; it names every task, so a search for a task_id still finds its enqueue.
    this.logger.log({ message: 'tasks enqueued (batch)', count: tasks.length, task_ids: tasks.map((t) => t.task_id) });
    return tasks;
  }

  private requireBroker(): void {
    if (!this.broker.isConnected()) {
      throw new ServiceUnavailableException(BROKER_DOWN);
    }
  }

  private crashIfTesting(): void {
    if (this.env.TEST_CRASH_AFTER_INSERT) {
      // Fault injection for the delivery-guarantee tests: die between the commit and the publish.
      process.kill(process.pid, 'SIGKILL');
    }
  }

  async get(taskId: string): Promise<TaskResource> {
    const task = await this.queries.findByTaskId(taskId);
    if (task === null) {
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `Task ${taskId} not found` });
    }
    return task;
  }

  list(filter: TaskFilter, page: TaskPageRequest): Promise<TaskPage> {
    return this.queries.list(filter, page);
  }

  async count(filter: TaskFilter): Promise<TaskCount> {
    return { count: await this.counts.count(filter) };
  }

  /**
   * Cancels a pending or running task. It is `cancelled` in the database at once — the authority:
   * its queued message is dropped at the claim, and a worker running it loses its claim at its
   * next heartbeat. The broadcast to the workers only makes the abort immediate.
   */
  async cancel(taskId: string): Promise<TaskResource> {
    const cancelled = await this.control.cancel(taskId, new Date());
    // The worker running it is told at once: every millisecond counts against the handler's end.
    const broadcast = cancelled?.from === TaskStatus.Running ? this.broadcastCancel(taskId, cancelled.attempt) : null;
    const task = await this.get(taskId);
    if (cancelled === null) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `Task ${taskId} is ${task.status}; only pending or running tasks can be cancelled`,
        status: task.status,
      });
    }
    await broadcast;
    this.metrics.cancelled.inc({ task_type: task.task_type });
    this.logger.log({ message: 'task cancelled', task_id: taskId, task_name: task.task_name, was: cancelled.from });
    return task;
  }

  private async broadcastCancel(taskId: string, attempt: number): Promise<void> {
    const message = { type: TaskControlType.Cancel, task_id: taskId, attempt };
    await this.messages.publishControl(message).catch((error: unknown) =>
      this.logger.warn({
        message: 'could not broadcast the cancel; the worker learns it at its next heartbeat',
        task_id: taskId,
        error: (error as Error).message,
      }),
    );
  }

  /**
   * Re-queues a failed or cancelled task as a new run (same task_id and retry_count; the run as
   * it ended is kept in its history). 409 for any other status.
   */
  async retry(taskId: string): Promise<TaskResource> {
    if (!this.broker.isConnected()) {
      throw new ServiceUnavailableException(
        'The message broker (RabbitMQ) is unavailable; the task was not re-queued.',
      );
    }
    const command = await this.control.requeueFinished(taskId, new Date());
    if (command === null) {
      const task = await this.get(taskId);
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `Task ${taskId} is ${task.status}; only failed or cancelled tasks can be retried`,
        status: task.status,
      });
    }
    // Read before the dispatch: once published, a worker may claim it at once, and the answer is
    // the task as re-queued (pending), like enqueue's.
    const task = await this.get(taskId);
    await this.dispatch(command);
    this.logger.log({ message: 'task re-queued', task_id: taskId, task_name: task.task_name, run: task.run });
    return task;
  }

  /** The earlier runs of a task (archived by retry), oldest first. */
  async runs(taskId: string): Promise<TaskRunResource[]> {
    await this.get(taskId);
    return this.queries.listRuns(taskId);
  }

  /**
   * Publishes a committed task's command and records the dispatch; if the broker does not take
   * it, the task stays in the outbox and the relay publishes it later.
   */
  private async dispatch(command: TaskCommand): Promise<void> {
    try {
      await this.messages.publishCommand(command);
      this.dispatches.record(command.task_id);
    } catch (error) {
      this.logger.warn({
        message: 'publish failed after the commit; the outbox relay will publish the task',
        task_id: command.task_id,
        error: (error as Error).message,
      });
    }
  }
}
