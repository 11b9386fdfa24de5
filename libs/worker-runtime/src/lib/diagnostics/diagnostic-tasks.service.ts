import { Inject, Injectable } from '@nestjs/common';
import { appendFile } from 'node:fs/promises';
import { FailParams, FailResult, SleepParams, SleepResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskContext } from '../handlers/task-handler';
import { WorkerEnv } from '../worker.env';

/** How often `diagnostic.sleep` reports its progress. */
const PROGRESS_STEP_MS = 50;

/** The diagnostic task names every worker serves: what the fault suite and the bench run. */
@Injectable()
export class DiagnosticTasksService {
  constructor(@Inject(WorkerEnv) private readonly env: WorkerEnv) {}

  /**
   * `diagnostic.sleep`: waits `params.ms` milliseconds (or until aborted) and returns. With
   * `DIAGNOSTIC_EXECUTION_LOG` set, each finished execution appends `task_id retry_count pid` to
   * that file — a count of executions that does not come from the status table. Reports its
   * progress (the share of `ms` slept) every 50 ms.
   */
  @HandlesTask(TaskName.DiagnosticSleep)
  async sleep(params: SleepParams, context: TaskContext): Promise<SleepResult> {
    const started = Date.now();
    context.signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      // Progress every PROGRESS_STEP_MS: far more often than it is written (that is coalesced).
      const ticker = setInterval(() => {
        const slept = Math.min(params.ms, Date.now() - started);
        context.progress((100 * slept) / Math.max(1, params.ms), `slept ${slept} of ${params.ms} ms`);
      }, PROGRESS_STEP_MS);
      const timer = setTimeout(() => {
        clearInterval(ticker);
        resolve();
      }, params.ms);
      context.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          clearInterval(ticker);
          reject(new Error(`sleep aborted after ${Date.now() - started} ms`));
        },
        { once: true },
      );
    });
    if (this.env.DIAGNOSTIC_EXECUTION_LOG) {
      await appendFile(this.env.DIAGNOSTIC_EXECUTION_LOG, `${context.taskId} ${context.retryCount} ${process.pid}\n`);
    }
    return { slept_ms: params.ms };
  }

  /** `diagnostic.fail`: always throws `params.message` (and so is retried, then fails). */
  @HandlesTask(TaskName.DiagnosticFail)
  fail(params: FailParams): Promise<FailResult> {
    return Promise.reject(new Error(params.message));
  }
}
