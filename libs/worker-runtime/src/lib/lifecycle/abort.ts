/** The attempt ran past its `timeout_ms`: it fails like any error (retries apply). */
export class TaskTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`the task timed out after ${timeoutMs} ms`);
    this.name = 'TaskTimeoutError';
  }
}

/** The task was cancelled while running: its outcome no longer matters. */
export class TaskCancelledError extends Error {
  constructor() {
    super('the task was cancelled');
    this.name = 'TaskCancelledError';
  }
}

/** A handler that went on after its AbortSignal fired was abandoned past the grace period. */
export class HandlerAbandonedError extends Error {
  constructor(reason: unknown, graceMs: number) {
    super(
      `${reason instanceof Error ? reason.message : String(reason)} (the handler ignored the abort for ${graceMs} ms)`,
    );
    this.name = 'HandlerAbandonedError';
  }
}

/**
 * Waits for a handler's promise, but once `signal` aborts gives it `graceMs` to stop: a handler
 * that ignores its signal is abandoned (the promise rejects with {@link HandlerAbandonedError})
 * so that its worker slot is freed. JavaScript cannot kill the handler; it runs on unobserved.
 */
export function abandonAfterAbort<T>(work: Promise<T>, signal: AbortSignal, graceMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      timer = setTimeout(() => reject(new HandlerAbandonedError(signal.reason, graceMs)), graceMs);
    };
    if (signal.aborted) {
      onAbort();
    } else {
      signal.addEventListener('abort', onAbort, { once: true });
    }
    work.then(
      (value) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
