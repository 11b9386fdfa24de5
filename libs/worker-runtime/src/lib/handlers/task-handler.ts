import { DiscoveryService } from '@nestjs/core';
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
  /**
   * Reports how far the attempt is (0–100, rounded and clamped) with an optional message (at most
   * 255 characters), shown in the task's resource. Cheap to call often: reports are coalesced and
   * written at most every PROGRESS_FLUSH_INTERVAL_MS. Returns at once.
   */
  progress(percent: number, message?: string): void;
}

/**
 * The signature of a task handler method. Handlers are thin: take the validated params, call
 * into the service they live on, return a JSON-serialisable result. Throwing fails the attempt
 * (retried up to `max_retries`); {@link PermanentTaskError} fails the task at once. Acks,
 * retries and events are not theirs.
 */
export type TaskHandlerMethod<N extends TaskName> = (
  params: TaskParamsOf<N>,
  context: TaskContext,
) => Promise<TaskResultOf<N>>;

/** A registered handler: the decorated method, bound to its provider. */
export interface TaskHandler<N extends TaskName> {
  run: TaskHandlerMethod<N>;
}

/** A failure that retrying cannot fix (a rejected recipient, a bad template…). */
export class PermanentTaskError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PermanentTaskError';
  }
}

/** Nest's discoverable metadata behind {@link HandlesTask}; read by the handler registry. */
export const TaskHandlerMarker = DiscoveryService.createDecorator<TaskName>();

/**
 * Declares a method of a provider as the handler of task `name`; the compiler checks its
 * signature against the catalogue (`TaskHandlerMethod<name>`). The worker's registry finds it with
 * Nest's `DiscoveryService` at start-up:
 *
 *     @Injectable()
 *     export class MailService {
 *       @HandlesTask(TaskName.EmailSend)
 *       send(params: SendEmailParams, context: TaskContext): Promise<SendEmailResult> { … }
 *     }
 */
export function HandlesTask<N extends TaskName>(name: N) {
  return <M extends TaskHandlerMethod<N>>(
    target: object,
    key: string | symbol,
    descriptor: TypedPropertyDescriptor<M>,
  ): void => {
    TaskHandlerMarker(name)(target, key, descriptor);
  };
}
