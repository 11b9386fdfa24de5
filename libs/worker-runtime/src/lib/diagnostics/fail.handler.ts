import { FailParams, FailResult, TaskName } from '@tasklane/contracts';
import { HandlesTask, TaskHandler } from '../handlers/task-handler';

/** `diagnostic.fail`: always throws `params.message` (and so is retried, then fails). */
@HandlesTask(TaskName.DiagnosticFail)
export class FailHandler implements TaskHandler<TaskName.DiagnosticFail> {
  run(params: FailParams): Promise<FailResult> {
    return Promise.reject(new Error(params.message));
  }
}
