/** Delays that grow from `minDelayMs` by `factor` up to `maxDelayMs`. */
export interface BackoffOptions {
  minDelayMs: number;
  maxDelayMs: number;
  /** Growth per failure (default 2). */
  factor?: number;
}

/** A backoff sequence: {@link next} is the delay before the next try, {@link reset} after a success. */
export class Backoff {
  private delay: number;

  constructor(private readonly options: BackoffOptions) {
    this.delay = options.minDelayMs;
  }

  next(): number {
    const current = this.delay;
    this.delay = Math.min(this.delay * (this.options.factor ?? 2), this.options.maxDelayMs);
    return current;
  }

  reset(): void {
    this.delay = this.options.minDelayMs;
  }
}

/** Thrown by {@link retryWithBackoff} when `stopIf` says to stop before a try. */
export class RetryStoppedError extends Error {
  constructor(readonly lastError: unknown) {
    super('stopped retrying', { cause: lastError });
    this.name = 'RetryStoppedError';
  }
}

export interface RetryOptions extends BackoffOptions {
  /** Which failures are worth another try; any other is thrown at once. */
  retryIf: (error: unknown) => boolean;
  /** Tries in all, the first included (default: no limit). The last failure is thrown. */
  maxAttempts?: number;
  /** Checked before every try after the first: true throws {@link RetryStoppedError}. */
  stopIf?: () => boolean;
  /** Told of each failure that will be tried again, and after how long (for a log line). */
  onRetry?: (error: unknown, delayMs: number, attempt: number) => void;
  /** How to wait (default: a timer). */
  sleep?: (ms: number) => Promise<void>;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs `operation` until it succeeds, waiting longer after each retryable failure: the one retry
 * loop of Tasklane (a database that went away, a broker that will be back, a deadlock victim).
 */
export async function retryWithBackoff<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const backoff = new Backoff(options);
  const wait = options.sleep ?? sleep;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!options.retryIf(error) || (options.maxAttempts !== undefined && attempt >= options.maxAttempts)) {
        throw error;
      }
      const delay = backoff.next();
      options.onRetry?.(error, delay, attempt);
      await wait(delay);
      if (options.stopIf?.()) {
        throw new RetryStoppedError(error);
      }
    }
  }
}
