import { TaskCommand } from '@tasklane/contracts';
import { PermanentTaskError } from '../handlers/task-handler';

/** Longest error message kept (the column is TEXT; messages are for humans, not dumps). */
export const MAX_ERROR_MESSAGE_LENGTH = 4_000;
/** Largest serialised result accepted; bigger outputs belong in files (see report.tasks_summary). */
export const MAX_RESULT_BYTES = 1_048_576;

export type TaskOutcome =
  | { kind: 'succeeded'; result: unknown }
  | { kind: 'retry'; errorMessage: string; nextRetryCount: number }
  | { kind: 'failed'; errorMessage: string };

export function errorMessageOf(error: unknown): string {
  const message = error instanceof Error ? error.message || error.name : String(error);
  return message.length > MAX_ERROR_MESSAGE_LENGTH ? `${message.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…` : message;
}

/** Checks that a handler's result can be stored; returns a reason when it cannot. */
export function unstorableResult(result: unknown): string | null {
  let json: string | undefined;
  try {
    json = JSON.stringify(result ?? null);
  } catch (error) {
    return `the handler's result is not JSON-serialisable: ${errorMessageOf(error)}`;
  }
  if (json === undefined) {
    return "the handler's result is not JSON-serialisable";
  }
  if (Buffer.byteLength(json) > MAX_RESULT_BYTES) {
    return `the handler's result is larger than ${MAX_RESULT_BYTES} bytes`;
  }
  return null;
}

/** Decides what a failed attempt leads to: another attempt while retries remain, else failure. */
export function outcomeOfFailure(command: TaskCommand, error: unknown): TaskOutcome {
  const errorMessage = errorMessageOf(error);
  if (error instanceof PermanentTaskError || command.retry_count >= command.max_retries) {
    return { kind: 'failed', errorMessage };
  }
  return { kind: 'retry', errorMessage, nextRetryCount: command.retry_count + 1 };
}
