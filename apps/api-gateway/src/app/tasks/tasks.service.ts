import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { TaskCount, TaskPage, TaskResource, ValidEnqueueTask, newTaskId } from '@tasklane/contracts';
import { AmqpConnection, TaskMessagePublisher } from '@tasklane/messaging';
import { TaskMetrics } from '@tasklane/observability';
import { BackgroundTaskRepository, TaskFilter } from '@tasklane/persistence';
import { GatewayEnv } from '../gateway.env';
import { DispatchRecorder } from './dispatch-recorder';

const BROKER_DOWN = 'The message broker (RabbitMQ) is unavailable; the task was not enqueued. Retry later.';

@Injectable()
export class TasksService {
  private readonly logger = new Logger(TasksService.name);

  constructor(
    @Inject(BackgroundTaskRepository) private readonly tasks: BackgroundTaskRepository,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(AmqpConnection) private readonly broker: AmqpConnection,
    @Inject(DispatchRecorder) private readonly dispatches: DispatchRecorder,
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
    if (!this.broker.isConnected()) {
      throw new ServiceUnavailableException(BROKER_DOWN);
    }
    const task = await this.tasks.insertPending({
      taskId: newTaskId(),
      taskName: request.task_name,
      taskType: request.task_type,
      priority: request.priority,
      params: request.params,
      maxRetries: request.max_retries,
      createdAt: new Date(),
    });
    if (this.env.TEST_CRASH_AFTER_INSERT) {
      // Fault injection for the delivery-guarantee tests: die between the commit and the publish.
      process.kill(process.pid, 'SIGKILL');
    }
    try {
      await this.messages.publishCommand({
        task_id: task.task_id,
        task_name: task.task_name,
        task_type: task.task_type,
        params: request.params as never,
        priority: task.priority,
        max_retries: task.max_retries,
        retry_count: 0,
      });
      this.dispatches.record(task.task_id);
    } catch (error) {
      this.logger.warn({
        message: 'publish failed after the commit; the outbox relay will publish the task',
        task_id: task.task_id,
        error: (error as Error).message,
      });
    }
    this.metrics.enqueued.inc({ task_type: task.task_type, priority: String(task.priority) });
    this.logger.log({
      message: 'task enqueued',
      task_id: task.task_id,
      task_name: task.task_name,
      priority: task.priority,
    });
    return task;
  }

  async get(taskId: string): Promise<TaskResource> {
    const task = await this.tasks.findByTaskId(taskId);
    if (task === null) {
      throw new NotFoundException({ statusCode: 404, error: 'Not Found', message: `Task ${taskId} not found` });
    }
    return task;
  }

  list(filter: TaskFilter, limit: number, offset: number): Promise<TaskPage> {
    return this.tasks.list(filter, limit, offset);
  }

  async count(filter: TaskFilter): Promise<TaskCount> {
    return { count: await this.tasks.count(filter) };
  }

  /** Cancels a pending task; its queued message is then dropped by the worker's claim. */
  async cancel(taskId: string): Promise<TaskResource> {
    const cancelled = await this.tasks.cancelPending(taskId, new Date());
    const task = await this.get(taskId);
    if (!cancelled) {
      throw new ConflictException({
        statusCode: 409,
        error: 'Conflict',
        message: `Task ${taskId} is ${task.status}; only pending tasks can be cancelled`,
        status: task.status,
      });
    }
    this.metrics.cancelled.inc({ task_type: task.task_type });
    this.logger.log({ message: 'task cancelled', task_id: taskId, task_name: task.task_name });
    return task;
  }
}
