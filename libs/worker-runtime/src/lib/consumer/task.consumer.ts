import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  TaskCommand,
  TaskEventType,
  TaskFailedEvent,
  TaskSucceededEvent,
  TaskType,
  decodeTaskCommand,
  taskQueueName,
} from '@tasklane/contracts';
import {
  AmqpConnection,
  BrokerUnavailableError,
  Delivery,
  MessageRejectedError,
  QueueConsumer,
  TaskMessagePublisher,
  assertRetryDelayLevel,
  retryDelayFor,
  retryDelayLevels,
} from '@tasklane/messaging';
import { TaskMetrics, TaskOutcomeLabel } from '@tasklane/observability';
import { RetryStoppedError, WriteCoalescer, retryWithBackoff } from '@tasklane/concurrency';
import {
  ClaimRequest,
  ClaimWon,
  DatabaseUnavailableError,
  TaskClaimRepository,
  TaskEventRepository,
} from '@tasklane/persistence';
import { TaskHandlerRegistry } from '../handlers/task-handler.registry';
import { WORKER_TASK_TYPE } from '../worker.constants';
import { WorkerEnv } from '../worker.env';
import { LeaseKeeper } from './lease-keeper';
import { SlotPool } from './slot-pool';
import { TaskControlSubscriber } from './task-control.subscriber';
import { HandlerAbandonedError, TaskCancelledError, TaskTimeoutError, abandonAfterAbort } from './abort';
import { TaskOutcome, errorMessageOf, outcomeOfFailure, unstorableResult } from './task-outcome';

interface RunningTask {
  readonly command: TaskCommand;
  /** Generation of this worker's claim; carried by every event as a fencing token. */
  readonly attempt: number;
  readonly abort: AbortController;
  /**
   * The task is no longer this worker's: its lease was lost, or shutdown handed it back. Its
   * outcome must not be published — another worker runs it again.
   */
  givenUp: boolean;
}

const DEPENDENCY_RETRY_DELAY_MS = 1_000;
/**
 * Tasks a worker holds at once per handler slot: running, or finishing — their handler done,
 * their outcome being recorded and published. Bounds what piles up while the database or the
 * broker is slow, without keeping a handler slot idle during those round trips.
 */
const HELD_TASKS_PER_SLOT = 4;
const OUTCOME_PUBLISH_MIN_DELAY_MS = 250;
const OUTCOME_PUBLISH_MAX_DELAY_MS = 5_000;

/**
 * The worker side of the transport (ADR 0001, 0005). For each delivery on this worker's queue:
 * 1. decode and validate the command — a poison message goes to the dead-letter queue;
 * 2. claim the task in the database with a lease — not claimable (cancelled, finished, already
 *    claimed: a duplicate) means ack and drop, the handler never runs;
 * 3. ack: from here the database owns the task, so no broker timeout can kill a long task, and a
 *    crash is recovered by the lease expiring (the reconciler hands the task back);
 * 4. run the handler while heartbeats keep the lease alive;
 * 5. record a final outcome in the row under the claim (a cancel arriving later gets 409), then
 *    publish it with confirms — `succeeded`, a delayed retry then `retrying`, or `failed` —
 *    retrying through broker outages for as long as the claim holds.
 * Handlers never see any of this.
 */
@Injectable()
export class TaskConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(TaskConsumer.name);
  private readonly consumer: QueueConsumer;
  private readonly leases: LeaseKeeper;
  private readonly claims: WriteCoalescer<ClaimRequest, ClaimWon | null>;
  private readonly outcomes: WriteCoalescer<TaskSucceededEvent | TaskFailedEvent, boolean>;
  private readonly queue: string;
  private readonly retryLevels: number[];
  private readonly running = new Map<string, RunningTask>();
  /** Handlers running at once (WORKER_CONCURRENCY). */
  private readonly slots: SlotPool;
  /** Tasks claimed and not yet finished, running or not (see HELD_TASKS_PER_SLOT). */
  private readonly held: SlotPool;
  private readonly control: TaskControlSubscriber;

  constructor(
    @Inject(AmqpConnection) connection: AmqpConnection,
    @Inject(TaskMessagePublisher) private readonly messages: TaskMessagePublisher,
    @Inject(TaskClaimRepository) private readonly claimRepository: TaskClaimRepository,
    @Inject(TaskEventRepository) events: TaskEventRepository,
    @Inject(TaskHandlerRegistry) private readonly handlers: TaskHandlerRegistry,
    @Inject(WORKER_TASK_TYPE) private readonly taskType: TaskType,
    @Inject(WorkerEnv) private readonly env: WorkerEnv,
    @Inject(TaskMetrics) private readonly metrics: TaskMetrics,
  ) {
    this.queue = taskQueueName(taskType);
    const levels = retryDelayLevels(env.RETRY_BASE_DELAY_MS, env.RETRY_MAX_DELAY_MS);
    this.retryLevels = levels;
    connection.addTopology(async (channel) => {
      for (const delay of levels) {
        await assertRetryDelayLevel(channel, delay);
      }
    });
    // Export this worker's counters from the start (at 0), so rates and ratios exist before the first task.
    for (const counter of [metrics.started, metrics.completed, metrics.failed, metrics.retried]) {
      counter.inc({ task_type: taskType }, 0);
    }
    this.leases = new LeaseKeeper(claimRepository, env.TASK_LEASE_MS);
    // Deliveries arriving together are claimed in one transaction.
    this.claims = new WriteCoalescer((requests) => claimRepository.claimMany(requests, env.TASK_LEASE_MS), {
      maxInFlight: 2,
      maxGroup: Math.max(1, env.WORKER_CONCURRENCY),
    });
    // Outcomes of tasks finishing together are written in one statement.
    this.outcomes = new WriteCoalescer((outcomes) => events.recordOutcomes(outcomes), {
      maxInFlight: 2,
      maxGroup: Math.max(1, env.WORKER_CONCURRENCY),
    });
    this.slots = new SlotPool(env.WORKER_CONCURRENCY);
    this.held = new SlotPool(env.WORKER_CONCURRENCY * HELD_TASKS_PER_SLOT);
    this.control = new TaskControlSubscriber(connection, (taskId, attempt) => this.cancelRunning(taskId, attempt));
    this.consumer = new QueueConsumer(connection, {
      queue: this.queue,
      prefetch: env.WORKER_CONCURRENCY,
      handle: (delivery) => this.handle(delivery),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.leases.start();
    await this.control.start();
    await this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    // Deliveries still waiting for a slot are not started: left unacked, they go back to the
    // queue when the consumer's channel closes.
    this.held.close();
    this.slots.close();
    await this.consumer.stop(this.env.SHUTDOWN_GRACE_MS, () => this.handBackRunningTasks());
    await this.control.stop();
    this.leases.stop();
  }

  isConsuming(): boolean {
    return this.consumer.isConsuming();
  }

  private async handle(delivery: Delivery): Promise<void> {
    const decoded = decodeTaskCommand(delivery.message.content, this.taskType);
    if (!decoded.ok) {
      await this.rejectPoison(delivery, decoded.reason, decoded.taskId);
      return;
    }
    const waitUntil = Date.now() + this.env.DELIVERY_MAX_WAIT_MS;
    if (!(await this.acquire(this.held, waitUntil, delivery))) {
      return;
    }
    try {
      if (!(await this.acquire(this.slots, waitUntil, delivery))) {
        return;
      }
      // The handler slot is given back as soon as the handler is done: recording and publishing
      // its outcome need no slot, so the next task starts meanwhile.
      let released = false;
      const releaseSlot = (): void => {
        if (!released) {
          released = true;
          this.slots.release();
        }
      };
      try {
        await this.claimAndRun(delivery, decoded.value, releaseSlot);
      } finally {
        releaseSlot();
      }
    } finally {
      this.held.release();
    }
  }

  /**
   * Takes a slot of `pool` for a delivery, waiting until `waitUntil` at most. On a timeout the
   * delivery goes back to the broker — before its consumer_timeout would close the channel — for
   * any free worker to take; on shutdown it is left unacked (back to the queue with the channel).
   */
  private async acquire(pool: SlotPool, waitUntil: number, delivery: Delivery): Promise<boolean> {
    const grant = await pool.acquire(Math.max(0, waitUntil - Date.now()));
    if (grant === 'timeout') {
      delivery.nack(true);
    }
    return grant === 'granted';
  }

  private async claimAndRun(delivery: Delivery, command: TaskCommand, handlerDone: () => void): Promise<void> {
    const fields = { task_id: command.task_id, task_name: command.task_name, retry_count: command.retry_count };
    let claim: ClaimWon | null;
    try {
      claim = await this.claims.write({ taskId: command.task_id, retryCount: command.retry_count });
    } catch (error) {
      if (!(error instanceof DatabaseUnavailableError)) {
        throw error;
      }
      this.logger.warn({
        message: 'database unavailable; requeueing the task',
        ...fields,
        error: errorMessageOf(error),
      });
      await sleep(DEPENDENCY_RETRY_DELAY_MS);
      delivery.nack(true);
      return;
    }
    if (claim === null) {
      this.logger.log({ message: 'task not claimable (cancelled, finished or already claimed); dropped', ...fields });
      delivery.ack();
      return;
    }
    const { attempt, startedAt } = claim;
    // The task now lives in the database under this worker's lease.
    delivery.ack();

    const task: RunningTask = { command, attempt, abort: new AbortController(), givenUp: false };
    this.running.set(command.task_id, task);
    this.leases.hold({ taskId: command.task_id, attempt }, (reason) => {
      task.givenUp = true;
      task.abort.abort(new Error(`task given up: ${reason}`));
    });
    const labels = { task_type: command.task_type };
    const observeDuration = this.metrics.duration.startTimer({ ...labels, task_name: command.task_name });
    const finish = (outcome: TaskOutcomeLabel): void => {
      observeDuration({ outcome });
    };
    try {
      this.metrics.started.inc(labels);
      this.logger.log({ message: 'task started', ...fields, attempt });
      const started = this.messages
        .publishEvent({
          event: TaskEventType.Started,
          ...this.eventBase(task),
          occurred_at: startedAt.toISOString(),
        })
        .catch((error: unknown) =>
          // Not fatal: the claim already recorded the start; the outcome event follows.
          this.logger.warn({ message: 'could not publish the started event', ...fields, error: errorMessageOf(error) }),
        );
      const outcome = await this.execute(task);
      handlerDone();
      const event = this.outcomeEvent(task, outcome);
      await started;
      if (event !== null && !task.givenUp) {
        const recorded = await this.recordOutcome(task, event);
        if (recorded === 'recorded') {
          // The row is final: no more heartbeats, which would now find no running claim.
          this.leases.release(command.task_id);
        } else if (recorded === 'claim lost') {
          task.givenUp = true;
        }
        // 'not recorded' (database away): the lease stays held until the event is published.
      }
      if (task.givenUp || !(await this.untilPublished(task, () => this.publishOutcome(task, outcome, event)))) {
        finish('given_up');
        this.logger.warn({
          message: 'task given up (claim lost or handed back); its outcome is discarded',
          ...fields,
          attempt,
        });
        return;
      }
      switch (outcome.kind) {
        case 'succeeded':
          finish('succeeded');
          this.metrics.completed.inc(labels);
          this.logger.log({ message: 'task succeeded', ...fields, attempt });
          break;
        case 'retry':
          finish('retried');
          this.metrics.retried.inc(labels);
          this.logger.log({ message: 'task will be retried', ...fields, attempt, error: outcome.errorMessage });
          break;
        case 'failed':
          finish('failed');
          this.metrics.failed.inc(labels);
          this.logger.log({ message: 'task failed', ...fields, attempt, error: outcome.errorMessage });
          break;
      }
    } finally {
      this.leases.release(command.task_id);
      this.running.delete(command.task_id);
    }
  }

  /**
   * Runs the handler under the attempt's timeout. Its AbortSignal fires on the timeout, on a
   * cancel, on a lost claim or at the end of the shutdown grace; a handler that does not stop
   * within ABORT_GRACE_MS is abandoned. A timeout fails the attempt (retries apply).
   */
  private async execute(task: RunningTask): Promise<TaskOutcome> {
    const { command, abort } = task;
    const timer = setTimeout(() => abort.abort(new TaskTimeoutError(command.timeout_ms)), command.timeout_ms);
    try {
      const run = this.handlers.get(command.task_name).run(command.params, {
        taskId: command.task_id,
        taskName: command.task_name,
        retryCount: command.retry_count,
        maxRetries: command.max_retries,
        priority: command.priority,
        signal: abort.signal,
      });
      const result = await abandonAfterAbort(run, abort.signal, this.env.ABORT_GRACE_MS);
      if (abort.signal.aborted) {
        // Finished, but only after its timeout (or a cancel): the abort decides, not the late result.
        return outcomeOfFailure(command, abort.signal.reason);
      }
      const problem = unstorableResult(result);
      return problem === null
        ? { kind: 'succeeded', result: result ?? null }
        : { kind: 'failed', errorMessage: problem };
    } catch (error) {
      if (error instanceof HandlerAbandonedError) {
        this.logger.warn({
          message: 'handler ignored its abort signal; abandoned',
          task_id: command.task_id,
          task_name: command.task_name,
          attempt: task.attempt,
        });
      }
      // Whatever the handler threw once aborted, the reason is what happened.
      const reason: unknown = abort.signal.aborted ? abort.signal.reason : error;
      return outcomeOfFailure(command, reason);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A cancel broadcast reached this worker: abort the task if it runs here under a generation
   * older than the cancel's (a later run of the same task is not affected).
   */
  cancelRunning(taskId: string, cancelledAttempt: number): void {
    const task = this.running.get(taskId);
    if (task && !task.givenUp && task.attempt < cancelledAttempt) {
      task.givenUp = true;
      this.leases.release(taskId);
      task.abort.abort(new TaskCancelledError());
      this.logger.log({
        message: 'task cancelled while running: aborting its handler',
        task_id: taskId,
        attempt: task.attempt,
      });
    }
  }

  /** The final event of an outcome (`succeeded`, or `failed` for good); null for a retry. */
  private outcomeEvent(task: RunningTask, outcome: TaskOutcome): TaskSucceededEvent | TaskFailedEvent | null {
    return outcome.kind === 'retry' ? null : this.finalEvent(task, outcome);
  }

  private finalEvent(
    task: RunningTask,
    outcome: Exclude<TaskOutcome, { kind: 'retry' }>,
  ): TaskSucceededEvent | TaskFailedEvent {
    const base = { ...this.eventBase(task), occurred_at: new Date().toISOString() };
    switch (outcome.kind) {
      case 'succeeded':
        return { event: TaskEventType.Succeeded, ...base, result: outcome.result };
      case 'failed':
        return { event: TaskEventType.Failed, ...base, error_message: outcome.errorMessage };
    }
  }

  /**
   * Writes a final outcome to the task's row under this worker's claim before the event goes out
   * (ADR 0006): a cancel that comes after it finds the task finished. 'claim lost' when the claim
   * is gone (cancelled or handed back meanwhile): the outcome is discarded. With the database away
   * ('not recorded') the event alone carries the outcome, as before — the tracker writes it once
   * it can — and the lease stays held meanwhile.
   */
  private async recordOutcome(
    task: RunningTask,
    event: TaskSucceededEvent | TaskFailedEvent,
  ): Promise<'recorded' | 'claim lost' | 'not recorded'> {
    try {
      return (await this.outcomes.write(event)) ? 'recorded' : 'claim lost';
    } catch (error) {
      this.logger.warn({
        message: 'could not record the outcome in the database; the status tracker will from its event',
        task_id: event.task_id,
        attempt: event.attempt,
        error: errorMessageOf(error),
      });
      return 'not recorded';
    }
  }

  /** Publishes the outcome: its final event, or the delayed retry message then `retrying`. */
  private async publishOutcome(
    task: RunningTask,
    outcome: TaskOutcome,
    final: TaskSucceededEvent | TaskFailedEvent | null,
  ): Promise<void> {
    if (outcome.kind !== 'retry') {
      await this.messages.publishEvent(final ?? this.finalEvent(task, outcome));
      return;
    }
    const delayMs = retryDelayFor(outcome.nextRetryCount, this.retryLevels);
    // The retry message first: if this process dies now, the task still runs again.
    await this.messages.publishRetry({ ...task.command, retry_count: outcome.nextRetryCount }, delayMs);
    await this.messages.publishEvent({
      event: TaskEventType.Retrying,
      ...this.eventBase(task),
      occurred_at: new Date().toISOString(),
      error_message: outcome.errorMessage,
      delay_ms: delayMs,
    });
  }

  /**
   * Keeps trying to publish an outcome through broker outages and lost queues — the lease keeps
   * being renewed meanwhile — until it is confirmed (true) or the task is given up (false).
   */
  private async untilPublished(task: RunningTask, publish: () => Promise<void>): Promise<boolean> {
    if (task.givenUp) {
      return false;
    }
    try {
      await retryWithBackoff(publish, {
        minDelayMs: OUTCOME_PUBLISH_MIN_DELAY_MS,
        maxDelayMs: OUTCOME_PUBLISH_MAX_DELAY_MS,
        // Unroutable: part of the topology was lost, and the publisher declares it again.
        retryIf: (error) => error instanceof BrokerUnavailableError || error instanceof MessageRejectedError,
        stopIf: () => task.givenUp,
        onRetry: (error, delay) =>
          this.logger.warn({
            message: `broker unavailable; retrying the outcome in ${delay} ms`,
            task_id: task.command.task_id,
            error: (error as Error).message,
          }),
      });
      return true;
    } catch (error) {
      if (error instanceof RetryStoppedError) {
        return false;
      }
      throw error;
    }
  }

  private async rejectPoison(delivery: Delivery, reason: string, taskId: string | undefined): Promise<void> {
    const messageId = String(delivery.message.properties.messageId ?? taskId ?? 'unknown');
    this.logger.error({ message: 'poison message sent to the dead-letter queue', task_id: taskId, reason });
    await this.messages.publishDeadLetter(delivery.message.content, reason, this.queue, messageId);
    if (
      taskId !== undefined &&
      (await this.claimRepository.failUnprocessable(taskId, `unprocessable message: ${reason}`, new Date()))
    ) {
      this.metrics.failed.inc({ task_type: this.taskType });
    }
    delivery.ack();
  }

  /**
   * Grace period over: abort what still runs and release its claim — a new generation, back in
   * the outbox — so that another worker (or this one's successor) runs it again at once instead
   * of waiting for the lease to expire.
   */
  private async handBackRunningTasks(): Promise<void> {
    for (const task of this.running.values()) {
      task.givenUp = true;
      task.abort.abort(new Error('worker shutting down'));
      this.leases.release(task.command.task_id);
      const { task_id, retry_count } = task.command;
      try {
        await this.claimRepository.releaseClaim(task_id, task.attempt);
        this.logger.warn({ message: 'task handed back', task_id, retry_count, attempt: task.attempt });
      } catch (error) {
        this.logger.error({
          message: 'could not release the claim of a task; its lease will expire instead',
          task_id,
          error: errorMessageOf(error),
        });
      }
    }
  }

  private eventBase(task: RunningTask) {
    const { task_id, task_name, task_type, retry_count } = task.command;
    return { task_id, task_name, task_type, retry_count, attempt: task.attempt };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
