import { Backoff, RetryStoppedError, retryWithBackoff } from './retry-with-backoff';

class Transient extends Error {}

/** An operation failing with the given errors in turn, then answering 'ok'. */
function failing(...errors: Error[]) {
  const calls: number[] = [];
  const operation = async (attempt: number): Promise<string> => {
    calls.push(attempt);
    const error = errors.shift();
    if (error) {
      throw error;
    }
    return 'ok';
  };
  return { operation, calls };
}

describe('Backoff', () => {
  it('doubles from the minimum up to the maximum, and starts over after reset', () => {
    const backoff = new Backoff({ minDelayMs: 250, maxDelayMs: 1_500 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([250, 500, 1_000, 1_500]);
    backoff.reset();
    expect(backoff.next()).toBe(250);
  });
});

describe('retryWithBackoff', () => {
  const slept: number[] = [];
  const sleep = async (ms: number): Promise<void> => {
    slept.push(ms);
  };
  beforeEach(() => slept.splice(0));

  it('retries retryable failures with growing delays and returns the result', async () => {
    const { operation, calls } = failing(new Transient('a'), new Transient('b'), new Transient('c'));
    const retried: number[] = [];
    const result = await retryWithBackoff(operation, {
      minDelayMs: 10,
      maxDelayMs: 25,
      retryIf: (error) => error instanceof Transient,
      onRetry: (_error, delay) => retried.push(delay),
      sleep,
    });
    expect(result).toBe('ok');
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(slept).toEqual([10, 20, 25]);
    expect(retried).toEqual(slept);
  });

  it('throws a failure that is not retryable at once', async () => {
    const { operation, calls } = failing(new Error('bad SQL'));
    await expect(
      retryWithBackoff(operation, { minDelayMs: 1, maxDelayMs: 1, retryIf: (e) => e instanceof Transient, sleep }),
    ).rejects.toThrow('bad SQL');
    expect(calls).toEqual([1]);
  });

  it('throws the last failure once maxAttempts tries have failed', async () => {
    const { operation, calls } = failing(new Transient('1'), new Transient('2'), new Transient('3'));
    await expect(
      retryWithBackoff(operation, { minDelayMs: 1, maxDelayMs: 1, maxAttempts: 2, retryIf: () => true, sleep }),
    ).rejects.toThrow('2');
    expect(calls).toEqual([1, 2]);
  });

  it('stops when stopIf says so, with the last failure as the cause', async () => {
    const { operation, calls } = failing(new Transient('down'), new Transient('down'));
    let stop = false;
    const stopped = retryWithBackoff(operation, {
      minDelayMs: 1,
      maxDelayMs: 1,
      retryIf: () => true,
      stopIf: () => stop,
      sleep: async () => {
        stop = true;
      },
    });
    await expect(stopped).rejects.toBeInstanceOf(RetryStoppedError);
    await expect(stopped).rejects.toMatchObject({ lastError: expect.objectContaining({ message: 'down' }) });
    expect(calls).toEqual([1]);
  });
});
