import { Inject, Injectable, Logger } from '@nestjs/common';
import { TaskHandlerRegistry } from '../handlers/task-handler.registry';
import { WorkerEnv } from '../worker.env';
import { HandlerAbandonedError, TaskTimeoutError, abandonAfterAbort } from './abort';
import { ProgressReporter } from './progress-reporter';
import { RunningTask } from './running-tasks';
import { TaskOutcome, outcomeOfFailure, unstorableResult } from './task-outcome';

/**
 * Stage 2: run the task's handler under the attempt's timeout. Its AbortSignal fires on the
 * timeout, on a cancel, on a lost claim or at the end of the shutdown grace; a handler that does
 * not stop within ABORT_GRACE_MS is abandoned. A timeout fails the attempt (retries apply).
 */
@Injectable()
export class TaskRunStage {
  private readonly logger = new Logger(TaskRunStage.name);

  constructor(
    @Inject(TaskHandlerRegistry) private readonly handlers: Pick<TaskHandlerRegistry, 'get'>,
    @Inject(WorkerEnv) private readonly env: Pick<WorkerEnv, 'ABORT_GRACE_MS'>,
    @Inject(ProgressReporter) private readonly progress: Pick<ProgressReporter, 'report' | 'forget'>,
  ) {}

  async run(task: RunningTask): Promise<TaskOutcome> {
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
        progress: (percent, message) => {
          if (!abort.signal.aborted) {
            this.progress.report(command.task_id, task.attempt, percent, message);
          }
        },
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
      this.progress.forget(command.task_id, task.attempt);
    }
  }
}
