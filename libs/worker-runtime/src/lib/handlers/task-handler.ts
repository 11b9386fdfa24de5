import { Injectable, SetMetadata } from '@nestjs/common';
import { TaskName, TaskParamsOf, TaskResultOf } from '@tasklane/contracts';

/** What a handler knows about the attempt it runs. */
export interface TaskContext {
  readonly taskId: string;
  readonly taskName: TaskName;
  readonly retryCount: number;
  readonly maxRetries: number;
  readonly priority: number;
  /** Aborted when the worker shuts down past its grace period; long handlers should honour it. */
  readonly signal: AbortSignal;
}

/**
 * Runs one task name. Handlers are thin: take the validated params, call one service, return
 * a JSON-serialisable result. Throwing fails the attempt (retried up to `max_retries`);
 * {@link PermanentTaskError} fails the task at once. Acks, retries and events are not theirs.
 */
export interface TaskHandler<N extends TaskName> {
  run(params: TaskParamsOf<N>, context: TaskContext): Promise<TaskResultOf<N>>;
}

/** A failure that retrying cannot fix (a rejected recipient, a bad template…). */
export class PermanentTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentTaskError';
  }
}

export const TASK_HANDLER_NAME = Symbol('tasklane:task-handler-name');

/**
 * Declares the class as the handler of task `name`; the compiler checks that it implements
 * `TaskHandler<name>`. Register the class as a provider of the worker's module.
 */
export function HandlesTask<N extends TaskName>(name: N) {
  return <C extends abstract new (...args: never[]) => TaskHandler<N>>(target: C): void => {
    SetMetadata(TASK_HANDLER_NAME, name)(target);
    Injectable()(target);
  };
}
