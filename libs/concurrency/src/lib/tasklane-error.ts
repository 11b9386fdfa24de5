/**
 * The base of Tasklane's own errors: each says whether the same operation may succeed if tried
 * again later (`transient`: a dependency that will be back) or not (a fault to report).
 */
export abstract class TasklaneError extends Error {
  abstract readonly transient: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True for a {@link TasklaneError} that says trying again later may succeed. */
export function isTransient(error: unknown): boolean {
  return error instanceof TasklaneError && error.transient;
}
