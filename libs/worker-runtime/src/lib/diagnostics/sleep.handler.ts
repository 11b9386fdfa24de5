import { Inject } from '@nestjs/common';
import { appendFile } from 'node:fs/promises';
import { SleepParams, SleepResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskContext, TaskHandler } from '../handlers/task-handler';
import { WorkerEnv } from '../worker.env';

/**
 * `diagnostic.sleep`: waits `params.ms` milliseconds (or until aborted) and returns. With
 * `DIAGNOSTIC_EXECUTION_LOG` set, each finished execution appends `task_id retry_count pid` to
 * that file — a count of executions that does not come from the status table.
 */
@HandlesTask(TaskName.DiagnosticSleep)
export class SleepHandler implements TaskHandler<TaskName.DiagnosticSleep> {
  constructor(@Inject(WorkerEnv) private readonly env: WorkerEnv) {}

  async run(params: SleepParams, context: TaskContext): Promise<SleepResult> {
    const started = Date.now();
    context.signal.throwIfAborted();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, params.ms);
      context.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
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
}
