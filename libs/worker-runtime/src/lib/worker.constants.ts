/** Injection token: the task type this worker process consumes. */
export const WORKER_TASK_TYPE = Symbol('tasklane:worker-task-type');
