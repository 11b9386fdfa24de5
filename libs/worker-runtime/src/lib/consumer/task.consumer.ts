import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskCommand, TaskType, decodeTaskCommand, taskQueueName } from '@tasklane/contracts';
import { sleep } from '@tasklane/concurrency';
import { AmqpConnection, BrokerListener, Delivery, ListensToBroker, QueueConsumer } from '@tasklane/messaging';
import { DatabaseUnavailableError } from '@tasklane/persistence';
import { TaskClaimStage } from '../lifecycle/task-claim.stage';
import { TaskLifecycle } from '../lifecycle/task-lifecycle.service';
import { errorMessageOf } from '../lifecycle/task-outcome';
import { WORKER_TASK_TYPE } from '../worker.constants';
import { WorkerEnv } from '../worker.env';
import { PoisonMessageRejecter } from './poison-message.rejecter';
import { SlotPool } from './slot-pool';

const DEPENDENCY_RETRY_DELAY_MS = 1_000;
/** Longest sleep of a delivery held back by its type's limit between two asks (a shutdown is noticed within it). */
const LIMITED_POLL_MAX_MS = 1_000;
/**
 * Tasks a worker holds at once per handler slot: running, or finishing — their handler done,
 * their outcome being recorded and published. Bounds what piles up while the database or the
 * broker is slow, without keeping a handler slot idle during those round trips.
 */
const HELD_TASKS_PER_SLOT = 4;

/**
 * The worker side of the transport (ADR 0001, 0005): it owns the deliveries of this worker's
 * queue, their slots and their ack/nack. For each delivery:
 * 1. decode and validate the command — a poison message goes to the dead-letter queue;
 * 2. wait for a slot (bounded: past DELIVERY_MAX_WAIT_MS the delivery goes back to the broker);
 * 3. claim the task in the database (TaskClaimStage) — not claimable (cancelled, finished,
 *    already claimed: a duplicate) means ack and drop, the handler never runs; held back by the
 *    type's concurrency or rate limit means ask again (within the same bounded wait); the
 *    database away means requeue;
 * 4. ack: from here the database owns the task, so no broker timeout can kill a long task, and a
 *    crash is recovered by the lease expiring (the reconciler hands the task back);
 * 5. hand the task to its lifecycle (run, record, publish — TaskLifecycle).
 * Handlers never see any of this.
 */
@Injectable()
@ListensToBroker()
export class TaskConsumer implements BrokerListener {
  private readonly logger = new Logger(TaskConsumer.name);
  private readonly consumer: QueueConsumer;
  /** Handlers running at once (WORKER_CONCURRENCY). */
  private readonly slots: SlotPool;
  /** Tasks claimed and not yet finished, running or not (see HELD_TASKS_PER_SLOT). */
  private readonly held: SlotPool;

  constructor(
    @Inject(AmqpConnection) connection: AmqpConnection,
    @Inject(WORKER_TASK_TYPE) private readonly taskType: TaskType,
    @Inject(WorkerEnv) private readonly env: WorkerEnv,
    @Inject(PoisonMessageRejecter) private readonly poison: PoisonMessageRejecter,
    @Inject(TaskClaimStage) private readonly claims: TaskClaimStage,
    @Inject(TaskLifecycle) private readonly lifecycle: TaskLifecycle,
  ) {
    this.slots = new SlotPool(env.WORKER_CONCURRENCY);
    this.held = new SlotPool(env.WORKER_CONCURRENCY * HELD_TASKS_PER_SLOT);
    this.consumer = new QueueConsumer(connection, {
      queue: taskQueueName(taskType),
      prefetch: env.WORKER_CONCURRENCY,
      handle: (delivery) => this.handle(delivery),
    });
  }

  async listen(): Promise<void> {
    await this.consumer.start();
  }

  /** First thing on shutdown (BrokerTransport.close), before any Nest shutdown hook. */
  async drain(): Promise<void> {
    // Deliveries still waiting for a slot are not started: left unacked, they go back to the
    // queue when the consumer's channel closes.
    this.held.close();
    this.slots.close();
    // Leases and the control subscription stop later (onApplicationShutdown), once every task is
    // finished or handed back.
    await this.consumer.stop(this.env.SHUTDOWN_GRACE_MS, () => this.lifecycle.handBackRunning());
  }

  isConsuming(): boolean {
    return this.consumer.isConsuming();
  }

  private async handle(delivery: Delivery): Promise<void> {
    const decoded = decodeTaskCommand(delivery.message.content, this.taskType);
    if (!decoded.ok) {
      await this.poison.reject(delivery, decoded.reason, decoded.taskId);
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
        await this.claimAndRun(delivery, decoded.value, waitUntil, releaseSlot);
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

  private async claimAndRun(
    delivery: Delivery,
    command: TaskCommand,
    waitUntil: number,
    handlerDone: () => void,
  ): Promise<void> {
    const fields = { task_id: command.task_id, task_name: command.task_name, retry_count: command.retry_count };
    let claim;
    try {
      claim = await this.claims.claim(command);
      // Held back by the type's concurrency or rate limit (ADR 0015): ask again, keeping the
      // delivery (and its slot) — every delivery here is of the same type — until its wait is over.
      while (claim !== null && 'limitedForMs' in claim) {
        if (Date.now() + claim.limitedForMs > waitUntil) {
          this.logger.log({ message: 'task held back by its type limit past its wait; back to the broker', ...fields });
          delivery.nack(true);
          return;
        }
        await sleep(Math.min(claim.limitedForMs, LIMITED_POLL_MAX_MS));
        if (this.slots.isClosed) {
          // Stopping: left unacked, it goes back to the queue with the channel.
          return;
        }
        claim = await this.claims.claim(command);
      }
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
    // The task now lives in the database under this worker's lease.
    delivery.ack();
    await this.lifecycle.run(command, claim, handlerDone);
  }
}
