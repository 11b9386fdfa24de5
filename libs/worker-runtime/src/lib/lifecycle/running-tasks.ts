import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TaskCommand } from '@tasklane/contracts';
import { TaskClaimRepository } from '@tasklane/persistence';
import { WorkerEnv } from '../worker.env';
import { LeaseKeeper } from './lease-keeper';
import { TaskCancelledError } from './abort';
import { errorMessageOf } from './task-outcome';

/** A task this worker claimed and has not finished: running, or recording and publishing its outcome. */
export interface RunningTask {
  readonly command: TaskCommand;
  /** Generation of this worker's claim; carried by every event as a fencing token. */
  readonly attempt: number;
  readonly abort: AbortController;
  /**
   * The task is no longer this worker's: its lease was lost, it was cancelled, or shutdown handed
   * it back. Its outcome must not be recorded or published — another run (or none) follows.
   */
  givenUp: boolean;
}

/**
 * The tasks this worker holds under a claim, with their leases kept alive. Everything that takes
 * a task away from this worker — a lost lease, a cancel broadcast, the end of the shutdown grace —
 * goes through here: the task is marked given up and its handler aborted. Leases are renewed from
 * start-up until the application shuts down (after the consumer has drained: see TaskConsumer).
 */
@Injectable()
export class RunningTasks implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunningTasks.name);
  private readonly tasks = new Map<string, RunningTask>();

  constructor(
    @Inject(LeaseKeeper) private readonly leases: LeaseKeeper,
    @Inject(TaskClaimRepository) private readonly claims: Pick<TaskClaimRepository, 'releaseClaim'>,
    @Inject(WorkerEnv) private readonly env: Pick<WorkerEnv, 'WORKER_ID'>,
  ) {}

  onApplicationBootstrap(): void {
    this.leases.start();
  }

  onApplicationShutdown(): void {
    this.leases.stop();
  }

  get size(): number {
    return this.tasks.size;
  }

  /** Holds a task this worker just claimed; a lost lease gives it up and aborts its handler. */
  hold(command: TaskCommand, attempt: number): RunningTask {
    const task: RunningTask = { command, attempt, abort: new AbortController(), givenUp: false };
    this.tasks.set(command.task_id, task);
    this.leases.hold({ taskId: command.task_id, attempt }, (reason) => {
      task.givenUp = true;
      task.abort.abort(new Error(`task given up: ${reason}`));
    });
    return task;
  }

  /** The task's row is final: no more heartbeats, which would now find no running claim. */
  stopRenewing(task: RunningTask): void {
    this.leases.release(task.command.task_id);
  }

  /** The task is done with, whatever its outcome. */
  forget(task: RunningTask): void {
    this.leases.release(task.command.task_id);
    if (this.tasks.get(task.command.task_id) === task) {
      this.tasks.delete(task.command.task_id);
    }
  }

  /**
   * A cancel broadcast reached this worker: abort the task if it runs here under a generation
   * older than the cancel's (a later run of the same task is not affected).
   */
  cancel(taskId: string, cancelledAttempt: number): void {
    const task = this.tasks.get(taskId);
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

  /**
   * Grace period over: abort what still runs and release its claim — a new generation, back in
   * the outbox — so that another worker (or this one's successor) runs it again at once instead
   * of waiting for the lease to expire.
   */
  async handBackAll(): Promise<void> {
    for (const task of this.tasks.values()) {
      task.givenUp = true;
      task.abort.abort(new Error('worker shutting down'));
      this.leases.release(task.command.task_id);
      const { task_id, retry_count } = task.command;
      try {
        await this.claims.releaseClaim(task_id, task.attempt, { workerId: this.env.WORKER_ID });
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
}
