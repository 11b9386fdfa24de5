import { SleepParams, SleepResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskContext, TaskHandler } from '../handlers/task-handler';

/** `diagnostic.sleep`: waits `params.ms` milliseconds (or until aborted) and returns. */
@HandlesTask(TaskName.DiagnosticSleep)
export class SleepHandler implements TaskHandler<TaskName.DiagnosticSleep> {
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
    return { slept_ms: params.ms };
  }
}
