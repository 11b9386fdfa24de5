import { TaskParamsOf } from '../tasks/task-catalogue';
import { TaskName } from '../tasks/task-name.enum';
import { TaskType } from '../tasks/task-type.enum';

/**
 * The message that asks a worker to run a task. Body of a persistent message on
 * `tasklane.tasks` (routing key = task type) whose AMQP priority is the task's priority.
 */
export interface TaskCommand<N extends TaskName = TaskName> {
  task_id: string;
  task_name: N;
  task_type: TaskType;
  params: TaskParamsOf<N>;
  priority: number;
  max_retries: number;
  /** The attempt this message is for: 0 for the first run, n for the n-th retry. */
  retry_count: number;
  /** How long the attempt may run before it is aborted and fails. */
  timeout_ms: number;
}
