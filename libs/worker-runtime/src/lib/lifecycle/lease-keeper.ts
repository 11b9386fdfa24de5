import { Inject, Injectable, Logger } from '@nestjs/common';
import { Claim, TaskClaimRepository } from '@tasklane/persistence';
import { WorkerEnv } from '../worker.env';
import { errorMessageOf } from './task-outcome';

interface HeldClaim extends Claim {
  /** Local time of the last successful renewal (or of the claim). */
  renewedAt: number;
  onLost: (reason: string) => void;
}

/** Part of the lease after which a worker that could not renew gives up its tasks by itself. */
const SELF_FENCE_FRACTION = 0.8;

/**
 * Keeps the leases of the tasks this worker runs alive: every fifth of the lease it renews them
 * all in one statement. A task whose claim is gone (released, reclaimed) — or whose lease could
 * not be renewed for 80 % of its length, e.g. while the database is unreachable — is reported
 * lost, so its handler is aborted before the reconciler can hand the task to another worker.
 */
@Injectable()
export class LeaseKeeper {
  private readonly logger = new Logger(LeaseKeeper.name);
  private readonly held = new Map<string, HeldClaim>();
  private readonly leaseMs: number;
  private timer: NodeJS.Timeout | null = null;
  private renewing = false;

  constructor(
    @Inject(TaskClaimRepository) private readonly claims: Pick<TaskClaimRepository, 'heartbeat'>,
    @Inject(WorkerEnv) env: Pick<WorkerEnv, 'TASK_LEASE_MS'>,
  ) {
    this.leaseMs = env.TASK_LEASE_MS;
  }

  start(): void {
    this.timer ??= setInterval(() => void this.renew(), Math.max(100, Math.floor(this.leaseMs / 5)));
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  hold(claim: Claim, onLost: (reason: string) => void): void {
    this.held.set(claim.taskId, { ...claim, renewedAt: Date.now(), onLost });
  }

  release(taskId: string): void {
    this.held.delete(taskId);
  }

  private async renew(): Promise<void> {
    this.fenceOverdue();
    if (this.renewing || this.held.size === 0) {
      return;
    }
    this.renewing = true;
    const claims = [...this.held.values()];
    const sentAt = Date.now();
    try {
      const lost = await this.claims.heartbeat(claims, this.leaseMs);
      for (const claim of claims) {
        // The lease counts from when the renewal was sent, not from when it was answered.
        claim.renewedAt = Math.max(claim.renewedAt, sentAt);
      }
      for (const claim of lost) {
        this.lose(claim.taskId, 'the claim was released or reclaimed');
      }
    } catch (error) {
      this.logger.warn({ message: 'could not renew task leases', tasks: claims.length, error: errorMessageOf(error) });
    } finally {
      this.renewing = false;
    }
  }

  /**
   * Gives up every task whose lease was last renewed more than 80 % of a lease ago — whether the
   * renewals failed or are still hanging — before the reconciler can hand it to another worker.
   */
  private fenceOverdue(): void {
    const deadline = Date.now() - this.leaseMs * SELF_FENCE_FRACTION;
    for (const claim of [...this.held.values()]) {
      if (claim.renewedAt < deadline) {
        this.lose(claim.taskId, 'the lease could not be renewed in time');
      }
    }
  }

  private lose(taskId: string, reason: string): void {
    const claim = this.held.get(taskId);
    if (claim) {
      this.held.delete(taskId);
      this.logger.warn({ message: `task lease lost: ${reason}`, task_id: taskId, attempt: claim.attempt });
      claim.onLost(reason);
    }
  }
}
