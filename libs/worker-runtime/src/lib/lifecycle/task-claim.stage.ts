import { Inject, Injectable } from '@nestjs/common';
import { TaskCommand, TaskType } from '@tasklane/contracts';
import { Batcher } from '@tasklane/concurrency';
import { ClaimAnswer, ClaimRequest, TaskClaimRepository, TypeLimits } from '@tasklane/persistence';
import { WORKER_TASK_TYPE } from '../worker.constants';
import { WorkerEnv } from '../worker.env';

type LimitSettings = Pick<WorkerEnv, 'TASK_TYPE_MAX_RUNNING' | 'TASK_TYPE_MAX_PER_SECOND'>;

/** The type's limits from the settings (ADR 0015), or null when it has none. */
export function typeLimitsOf(taskType: TaskType, env: LimitSettings): TypeLimits | null {
  const maxRunning = env.TASK_TYPE_MAX_RUNNING > 0 ? env.TASK_TYPE_MAX_RUNNING : null;
  const perSecond = env.TASK_TYPE_MAX_PER_SECOND > 0 ? env.TASK_TYPE_MAX_PER_SECOND : null;
  return maxRunning === null && perSecond === null ? null : { taskType, maxRunning, perSecond };
}

/**
 * Stage 1: claim a delivered task in the database under a lease. Deliveries arriving together are
 * claimed in one transaction. Null: not claimable (cancelled, finished, or already claimed — a
 * duplicate delivery), so the handler must not run; `limitedForMs`: held back by the type's
 * concurrency or rate limit, ask again then. A database that cannot be reached raises
 * DatabaseUnavailableError.
 */
@Injectable()
export class TaskClaimStage {
  private readonly claims: Batcher<ClaimRequest, ClaimAnswer>;

  constructor(
    @Inject(TaskClaimRepository) repository: Pick<TaskClaimRepository, 'claimMany'>,
    @Inject(WorkerEnv) env: Pick<WorkerEnv, 'TASK_LEASE_MS' | 'WORKER_CONCURRENCY' | 'WORKER_ID'> & LimitSettings,
    @Inject(WORKER_TASK_TYPE) taskType: TaskType,
  ) {
    const limits = typeLimitsOf(taskType, env);
    this.claims = new Batcher(
      (requests) => repository.claimMany(requests, env.TASK_LEASE_MS, { workerId: env.WORKER_ID }, limits),
      {
        maxInFlight: 2,
        maxSize: Math.max(1, env.WORKER_CONCURRENCY),
        maxWaitMs: 0,
      },
    );
  }

  claim(command: TaskCommand): Promise<ClaimAnswer> {
    return this.claims.add({ taskId: command.task_id, retryCount: command.retry_count });
  }
}
