import { Inject, Injectable } from '@nestjs/common';
import { TaskCommand } from '@tasklane/contracts';
import { Batcher } from '@tasklane/concurrency';
import { ClaimRequest, ClaimWon, TaskClaimRepository } from '@tasklane/persistence';
import { WorkerEnv } from '../worker.env';

/**
 * Stage 1: claim a delivered task in the database under a lease. Deliveries arriving together are
 * claimed in one transaction. Null: not claimable (cancelled, finished, or already claimed — a
 * duplicate delivery), so the handler must not run. A database that cannot be reached raises
 * DatabaseUnavailableError.
 */
@Injectable()
export class TaskClaimStage {
  private readonly claims: Batcher<ClaimRequest, ClaimWon | null>;

  constructor(
    @Inject(TaskClaimRepository) repository: Pick<TaskClaimRepository, 'claimMany'>,
    @Inject(WorkerEnv) env: Pick<WorkerEnv, 'TASK_LEASE_MS' | 'WORKER_CONCURRENCY' | 'WORKER_ID'>,
  ) {
    this.claims = new Batcher(
      (requests) => repository.claimMany(requests, env.TASK_LEASE_MS, { workerId: env.WORKER_ID }),
      {
        maxInFlight: 2,
        maxSize: Math.max(1, env.WORKER_CONCURRENCY),
        maxWaitMs: 0,
      },
    );
  }

  claim(command: TaskCommand): Promise<ClaimWon | null> {
    return this.claims.add({ taskId: command.task_id, retryCount: command.retry_count });
  }
}
