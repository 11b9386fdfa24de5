import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { TaskProgress } from '@tasklane/contracts';
import { ProgressReport, TaskClaimRepository } from '@tasklane/persistence';
import { WorkerEnv } from '../worker.env';
import { errorMessageOf } from './task-outcome';

/** A percentage as stored: a whole number from 0 to 100 (NaN → 0). */
export function clampPercent(percent: number): number {
  if (!Number.isFinite(percent)) {
    return percent === Number.POSITIVE_INFINITY ? TaskProgress.Max : TaskProgress.Min;
  }
  return Math.min(TaskProgress.Max, Math.max(TaskProgress.Min, Math.round(percent)));
}

/** A progress message as stored: at most 255 characters (code points, not halves of one), or null. */
export function progressMessage(message: string | null | undefined): string | null {
  if (message === undefined || message === null || message === '') {
    return null;
  }
  const text = String(message);
  const characters = [...text];
  return characters.length <= TaskProgress.MessageMaxLength
    ? text
    : characters.slice(0, TaskProgress.MessageMaxLength).join('');
}

/**
 * Coalesces the progress handlers report (`context.progress(percent, message)`): a report only
 * replaces the task's latest in memory; every PROGRESS_FLUSH_INTERVAL_MS the latest reports of all
 * the worker's tasks are written in one statement, under each task's claim. A handler reporting a
 * thousand times a second costs its task at most 1000 / PROGRESS_FLUSH_INTERVAL_MS writes a
 * second. A failed write keeps the reports for the next flush (a newer one replaces them).
 */
@Injectable()
export class ProgressReporter implements OnApplicationShutdown {
  private readonly logger = new Logger(ProgressReporter.name);
  private readonly latest = new Map<string, ProgressReport>();
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;

  constructor(
    @Inject(TaskClaimRepository) private readonly claims: Pick<TaskClaimRepository, 'reportProgress'>,
    @Inject(WorkerEnv) private readonly env: Pick<WorkerEnv, 'PROGRESS_FLUSH_INTERVAL_MS'>,
  ) {}

  /** Records the latest progress of a task's attempt; written at the next flush. */
  report(taskId: string, attempt: number, percent: number, message?: string | null): void {
    this.latest.set(taskId, { taskId, attempt, percent: clampPercent(percent), message: progressMessage(message) });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.env.PROGRESS_FLUSH_INTERVAL_MS);
  }

  /** Drops what a finished attempt reported and was not written yet: its outcome is what counts now. */
  forget(taskId: string, attempt: number): void {
    if (this.latest.get(taskId)?.attempt === attempt) {
      this.latest.delete(taskId);
    }
  }

  /** Writes the latest reports now (one statement); one flush at a time. */
  async flush(): Promise<void> {
    if (this.flushing !== null) {
      return this.flushing;
    }
    const reports = [...this.latest.values()];
    this.latest.clear();
    if (reports.length === 0) {
      return;
    }
    this.flushing = this.claims
      .reportProgress(reports)
      .then(() => undefined)
      .catch((error: unknown) => {
        for (const report of reports) {
          // Kept for the next flush unless a newer report came meanwhile.
          if (!this.latest.has(report.taskId)) {
            this.latest.set(report.taskId, report);
          }
        }
        this.logger.warn({
          message: 'could not write task progress; trying again',
          tasks: reports.length,
          error: errorMessageOf(error),
        });
        this.timer ??= setTimeout(() => {
          this.timer = null;
          void this.flush();
        }, this.env.PROGRESS_FLUSH_INTERVAL_MS);
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  onApplicationShutdown(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
